import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors.js';
import { mapSubmission, pickRedirect } from '../../src/modules/forms/submission.mapping.js';
import { readCsv, type CsvRecord } from '../../src/modules/imports/csv-reader.js';
import { parseRuleset } from '../../src/modules/scoring/scoring.schemas.js';
import {
  fitGrade,
  ledgerState,
  planAwards,
  type Ruleset,
  type ScoredEvent,
} from '../../src/modules/scoring/scoring.logic.js';
import { headerInjection, htmlPayloads, openRedirects, operatorValues } from '../fixtures/hostile.js';

const runs = { numRuns: 200 };
/** Values a hostile client sends: any JSON, the corpus, and the odd strings. */
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(...operatorValues, ...headerInjection, ...htmlPayloads),
  fc.string({ unit: 'binary', maxLength: 100 }),
);
const fieldName = fc.oneof(
  fc.constantFrom(
    'email',
    'first_name',
    'firstName',
    'company',
    'retURL',
    'oid',
    '_hp',
    'notes',
    '__proto__',
  ),
  fc.constantFrom('$where', 'a.b', 'constructor', 'email[$ne]', '00N5e00000abcde'),
  fc.string({ maxLength: 20 }),
);

describe('form submissions under fuzzing', () => {
  const form = {
    fields: [{ name: 'notes' }, { name: 'budget', required: true }],
    honeypot: '_hp',
    minFillSeconds: 0,
  };

  it('when any body is mapped, then it never throws and every attribute key is safe to store', () => {
    fc.assert(
      fc.property(fc.dictionary(fieldName, hostileValue, { maxKeys: 12 }), (body) => {
        const m = mapSubmission(body, form);
        for (const e of m.errors) {
          expect(typeof e.path).toBe('string');
          expect(typeof e.message).toBe('string');
        }
        for (const k of Object.keys(m.input.attributes ?? {}))
          expect(k).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/);
        if (m.errors.length === 0) expect(typeof m.input.email).toBe('string');
      }),
      runs,
    );
  });

  it('when retURL is anything, then the redirect is the form’s own URL or on a trusted origin', () => {
    const rules = {
      redirectUrl: 'https://example.com/thanks',
      allowRetUrl: true,
      allowedOrigins: ['https://www.example.com'],
    };
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...openRedirects), fc.webUrl(), hostileValue), (retURL) => {
        const to = pickRedirect(rules, retURL);
        expect(to === null || /^https:\/\/(www\.)?example\.com\//.test(to)).toBe(true);
      }),
      runs,
    );
  });
});

/** One field as RFC 4180 writes it. */
const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

async function records(buf: Buffer, chunk: number): Promise<CsvRecord[]> {
  async function* source() {
    for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
  }
  const out: CsvRecord[] = [];
  for await (const r of readCsv(source(), { maxLineBytes: 4096 })) out.push(r);
  return out;
}

describe('CSV parsing under fuzzing', () => {
  // text a cell may hold: printable, quotes, commas, line breaks, markup, spreadsheet formulas
  const cell = fc.oneof(
    fc.string({ maxLength: 30 }).filter((s) => !s.includes('\uFEFF') && !s.includes('\u0000')),
    fc.constantFrom(
      '=cmd|"/c calc"!A1',
      '+1',
      '@SUM(A1)',
      'a,b',
      'say "hi"',
      'line\r\nbreak',
      ...htmlPayloads,
    ),
  );

  it('when rows are written as RFC 4180, then they read back cell for cell, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(cell, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 64 }),
        async (rows, chunk) => {
          const table = [['email', 'first_name', 'notes'], ...rows];
          const text = table.map((r) => r.map(quote).join(',')).join('\r\n') + '\r\n';
          const got = await records(Buffer.from(text, 'utf8'), chunk);
          // a row of three empty cells is a blank line, which a reader skips
          const expected = table.filter((r) => r.some((c) => c !== ''));
          expect(got.map((r) => ('fields' in r ? r.fields : r.error))).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('when the bytes are anything, then reading never throws: every record is fields or a rejected row', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 600 }),
        fc.integer({ min: 1, max: 50 }),
        async (bytes, chunk) => {
          const head = Buffer.from('email,first_name\r\n');
          const rs = await records(Buffer.concat([head, Buffer.from(bytes)]), chunk);
          for (const r of rs)
            expect('fields' in r ? Array.isArray(r.fields) : typeof r.error === 'string').toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('scoring rules under fuzzing', () => {
  it('when any JSON is given as a rule set, then it parses or is a 400 validation_failed, never another error', () => {
    const near = fc.record(
      {
        rules: fc.array(
          fc.record(
            {
              id: fc.oneof(fc.string({ maxLength: 10 }), hostileValue),
              event: fc.oneof(fc.constant('page_view'), hostileValue),
              where: fc.oneof(fc.dictionary(fc.string({ maxLength: 5 }), hostileValue), hostileValue),
              points: fc.oneof(fc.integer(), fc.double(), hostileValue),
              maxPerDay: hostileValue,
            },
            { requiredKeys: ['id', 'event', 'points'] },
          ),
          { maxLength: 4 },
        ),
        fit: fc.array(
          fc.record({
            id: fc.string({ maxLength: 8 }),
            field: fc.constantFrom('country', 'title', '$where', 'a.b', '__proto__'),
            matches: fc.oneof(
              fc.constantFrom('(a+)+$', '^CTO$', '[', '(?<x>a)\\k<x>', '.*'.repeat(50)),
              fc.string(),
            ),
            points: fc.integer({ min: -5, max: 50 }),
          }),
          { maxLength: 3 },
        ),
        cap: hostileValue,
      },
      { requiredKeys: ['rules'] },
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue({ maxDepth: 4 }), near, fc.constantFrom(...operatorValues)),
        (raw) => {
          try {
            parseRuleset(raw);
          } catch (err) {
            expect(err).toBeInstanceOf(AppError);
            expect((err as AppError).status).toBe(400);
            expect((err as AppError).code).toBe('validation_failed');
            expect((err as AppError).details?.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('when a valid rule set meets any events and any lead, then awards and the grade are finite and within the caps', () => {
    const rule = fc.record(
      {
        id: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
        event: fc.constantFrom('page_view', 'email_open', 'form_submit'),
        where: fc.dictionary(fc.constantFrom('path', 'utm'), fc.constantFrom('/pricing', '/docs', 'x')),
        points: fc.integer({ min: -100, max: 100 }).filter((p) => p !== 0),
        maxPerDay: fc.integer({ min: 1, max: 5 }),
        maxTotal: fc.integer({ min: 1, max: 10 }),
      },
      { requiredKeys: ['id', 'event', 'points'] },
    );
    const event: fc.Arbitrary<ScoredEvent> = fc.record({
      _id: fc.uuid(),
      type: fc.constantFrom('page_view', 'email_open', 'form_submit', 'other'),
      occurredAt: fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }),
      properties: fc.dictionary(fc.constantFrom('path', 'utm', '__proto__', '$gt'), hostileValue),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(rule, { selector: (r) => r.id, maxLength: 5 }),
        fc.array(event, { maxLength: 30 }),
        fc.option(fc.integer({ min: 1, max: 500 }), { nil: null }),
        fc.dictionary(fc.constantFrom('country', 'title'), hostileValue),
        (rules, events, cap, lead) => {
          const raw = {
            rules,
            fit: [
              { id: 'cto', field: 'title', matches: '^(CTO|CEO)$', points: 10 },
              { id: 'de', field: 'country', in: ['DE', 'FR'], points: 5 },
            ],
            cap,
          };
          const parsed = parseRuleset(raw);
          const rs: Ruleset = {
            version: 1,
            rules: parsed.rules,
            fit: parsed.fit ?? [],
            decay: null,
            cap: parsed.cap ?? null,
            halfLifeMs: null,
          };
          const awards = planAwards(rs, 'lead-1', events, ledgerState([], 1));
          const sum = awards.reduce((s, a) => s + a.points, 0);
          expect(Number.isFinite(sum)).toBe(true);
          for (const a of awards) expect(Number.isInteger(a.points)).toBe(true);
          // the cap: no positive award lifts the running score above it
          let running = 0;
          for (const a of awards) {
            running += a.points;
            if (cap !== null && a.points > 0) expect(running).toBeLessThanOrEqual(cap);
          }
          for (const r of rules) {
            const n = awards.filter((a) => a.ruleId === r.id).length;
            if (r.maxTotal !== undefined) expect(n).toBeLessThanOrEqual(r.maxTotal);
          }
          expect([null, 'A', 'B', 'C', 'D', 'F']).toContain(fitGrade(rs.fit, lead));
        },
      ),
      runs,
    );
  });
});
