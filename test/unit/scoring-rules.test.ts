import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decayPoints,
  fitGrade,
  gradeFor,
  ledgerState,
  planAwards,
  replayLedger,
  type Ruleset,
  type ScoredEvent,
} from '../../src/modules/scoring/scoring.logic.js';
import { parseRuleset, rulesetInput, unsafePattern } from '../../src/modules/scoring/scoring.schemas.js';

const rs = (over: Partial<Ruleset>): Ruleset => ({
  version: 1,
  rules: [],
  fit: [],
  decay: null,
  cap: null,
  halfLifeMs: null,
  ...over,
});
const lead = 'aaaaaaaaaaaaaaaaaaaaaaaa';
let n = 0;
const ev = (type: string, at: string, properties: Record<string, unknown> = {}): ScoredEvent => ({
  _id: (++n).toString(16).padStart(24, '0'),
  type,
  occurredAt: new Date(at),
  properties,
});

describe('scoring rules (pure)', () => {
  it('when a rule has where conditions, then only events whose properties are equal score', () => {
    const set = rs({ rules: [{ id: 'p', event: 'page_view', where: { path: '/pricing' }, points: 5 }] });
    const out = planAwards(
      set,
      lead,
      [
        ev('page_view', '2026-01-01T00:00:00Z', { path: '/pricing' }),
        ev('page_view', '2026-01-01T00:00:01Z', { path: '/blog' }),
        ev('page_view', '2026-01-01T00:00:02Z'),
      ],
      ledgerState([], 1),
    );
    expect(out.map((e) => e.points)).toEqual([5]);
  });

  it('when maxPerDay is set, then awards stop for the UTC day and start again the next', () => {
    const set = rs({ rules: [{ id: 'v', event: 'visit', points: 2, maxPerDay: 2 }] });
    const events = [
      '2026-01-01T01:00:00Z',
      '2026-01-01T12:00:00Z',
      '2026-01-01T23:59:59Z',
      '2026-01-02T00:00:00Z',
    ].map((t) => ev('visit', t));
    const out = planAwards(set, lead, events, ledgerState([], 1));
    expect(out.map((e) => e.day)).toEqual(['2026-01-01', '2026-01-01', '2026-01-02']);
    expect(new Set(out.map((e) => e._id)).size).toBe(3);
  });

  it('when maxTotal is set, then a lead earns the rule that many times ever, counting its ledger', () => {
    const set = rs({ rules: [{ id: 'w', event: 'webinar', points: 10, maxTotal: 2 }] });
    const state = ledgerState([], 1);
    const first = planAwards(set, lead, [ev('webinar', '2026-01-01T00:00:00Z')], state);
    const more = planAwards(
      set,
      lead,
      [ev('webinar', '2026-02-01T00:00:00Z'), ev('webinar', '2026-03-01T00:00:00Z')],
      state,
    );
    expect([...first, ...more].map((e) => e.points)).toEqual([10, 10]);
    const fromLedger = ledgerState([...first, ...more], 1);
    expect(planAwards(set, lead, [ev('webinar', '2026-04-01T00:00:00Z')], fromLedger)).toEqual([]);
  });

  it('when the same event is planned twice, then it is awarded once', () => {
    const set = rs({ rules: [{ id: 'o', event: 'email_open', points: 1 }] });
    const e = ev('email_open', '2026-01-01T00:00:00Z');
    const first = planAwards(set, lead, [e], ledgerState([], 1));
    expect(planAwards(set, lead, [e], ledgerState(first, 1))).toEqual([]);
  });

  it('when a cap is set, then positive awards are trimmed to it and negative ones always apply', () => {
    const set = rs({
      cap: 25,
      rules: [
        { id: 'd', event: 'demo', points: 10 },
        { id: 'n', event: 'neg', points: -4 },
      ],
    });
    const out = planAwards(
      set,
      lead,
      ['01', '02', '03', '04']
        .map((d) => ev('demo', `2026-01-${d}T00:00:00Z`))
        .concat(ev('neg', '2026-01-05T00:00:00Z')),
      ledgerState([], 1),
    );
    expect(out.map((e) => e.points)).toEqual([10, 10, 5, -4]);
  });

  it('when fit rules match, then the grade is the share of attainable points as a letter', () => {
    expect([0.8, 0.79, 0.6, 0.4, 0.2, 0.19].map(gradeFor)).toEqual(['A', 'B', 'B', 'C', 'D', 'F']);
    const fit = [
      { id: 't', field: 'title', matches: '^VP', points: 50 },
      { id: 'c', field: 'country', in: ['US'], points: 30 },
      { id: 'i', field: 'attributes.industry', equals: 'saas', points: 20 },
    ];
    expect(fitGrade(fit, { title: 'VP Ops', country: 'US', attributes: { industry: 'saas' } })).toBe('A');
    expect(fitGrade(fit, { title: 'VP Ops', country: 'FR' })).toBe('C');
    expect(fitGrade(fit, { title: 'Intern' })).toBe('F');
    expect(fitGrade([], { title: 'VP' })).toBeNull();
  });

  it('when a score decays by one half-life, then it halves; a loss that rounds to nothing writes nothing', () => {
    const day = 86_400_000;
    expect(decayPoints(100, 30 * day, 30 * day)).toBe(-50);
    expect(decayPoints(100, 60 * day, 30 * day)).toBe(-75);
    expect(decayPoints(1, 3_600_000, 30 * day)).toBe(0);
    expect(decayPoints(0, 30 * day, 30 * day)).toBe(0);
    expect(decayPoints(-10, 30 * day, 30 * day)).toBe(0);
  });

  it('when a history is replayed with decay, then the decay entry brings the awards to their decayed value', () => {
    const set = rs({
      rules: [{ id: 'd', event: 'demo', points: 80 }],
      decay: { halfLife: '10d' },
      halfLifeMs: 10 * 86_400_000,
    });
    const out = replayLedger(
      set,
      lead,
      [ev('demo', '2026-01-01T00:00:00Z')],
      new Date('2026-01-21T00:00:00Z'),
    );
    expect(out.map((e) => [e.kind, e.points])).toEqual([
      ['award', 80],
      ['decay', -60],
    ]);
  });

  it('whatever the events, then awards respect every cap and ids are unique', () => {
    const set = rs({
      cap: 60,
      rules: [
        { id: 'a', event: 'a', points: 7, maxPerDay: 2 },
        { id: 'b', event: 'b', points: 5, maxTotal: 3 },
        { id: 'c', event: 'a', points: -2 },
      ],
    });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            type: fc.constantFrom('a', 'b', 'x'),
            day: fc.integer({ min: 1, max: 5 }),
            sec: fc.integer({ min: 0, max: 86_399 }),
          }),
          { maxLength: 60 },
        ),
        (items) => {
          const events = items.map((i) =>
            ev(i.type, new Date(Date.UTC(2026, 0, i.day, 0, 0, i.sec)).toISOString()),
          );
          const out = planAwards(set, lead, events, ledgerState([], 1));
          expect(new Set(out.map((e) => e._id)).size).toBe(out.length);
          expect(out.filter((e) => e.ruleId === 'b').length).toBeLessThanOrEqual(3);
          const perDay = new Map<string, number>();
          for (const e of out.filter((x) => x.ruleId === 'a'))
            perDay.set(e.day!, (perDay.get(e.day!) ?? 0) + 1);
          for (const c of perDay.values()) expect(c).toBeLessThanOrEqual(2);
          let running = 0;
          for (const e of out) {
            running += e.points;
            if (e.points > 0) expect(running).toBeLessThanOrEqual(60);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('rule-set validation', () => {
  it('when a rule set has bad fields, then every one is named', () => {
    let details: { path: string }[] = [];
    try {
      parseRuleset({
        rules: [
          { id: 'dup', event: 'a', points: 1 },
          { id: 'dup', event: 'b', points: 'ten' },
          { id: 'x y', event: '$where', points: 1.5, maxPerDay: 0 },
        ],
        fit: [
          { id: 'f1', field: 'title', matches: '([a-z', points: 10 },
          { id: 'f2', field: 'password', equals: 'x', points: 10 },
          { id: 'f3', field: 'title', matches: '(a+)+$', points: 10 },
          { id: 'f4', field: 'title', matches: 'a'.repeat(201), points: 10 },
          { id: 'f5', field: 'title', equals: 'a', in: ['b'], points: 10 },
        ],
        decay: { halfLife: '-3d' },
        cap: -1,
      });
    } catch (err) {
      details = (err as { details: { path: string }[] }).details;
    }
    const paths = details.map((d) => d.path);
    for (const p of [
      'rules.1.id',
      'rules.1.points',
      'rules.2.id',
      'rules.2.event',
      'rules.2.points',
      'rules.2.maxPerDay',
      'fit.0.matches',
      'fit.1.field',
      'fit.2.matches',
      'fit.3.matches',
      'fit.4.equals',
      'decay.halfLife',
      'cap',
    ]) {
      expect(paths).toContain(p);
    }
    expect(rulesetInput.safeParse({ rules: [], decay: { halfLife: '0d' } }).success).toBe(false);
  });

  it('when a pattern nests quantifiers or refers back, then it is refused; ordinary patterns pass', () => {
    for (const p of ['(a+)+', '(a*)*b', '(.*a){10}', '(x|xx)+', '(a)\\1'])
      expect(unsafePattern(p)).toBeDefined();
    for (const p of ['^(VP|Chief|Head)', '\\.edu$', '^[A-Z]{2}$', '(ab)+', 'director|manager'])
      expect(unsafePattern(p)).toBeUndefined();
  });
});
