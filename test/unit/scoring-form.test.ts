import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors.js';
import { parseRuleset, unsafePattern } from '../../src/modules/scoring/scoring.schemas.js';
import {
  emptyFit,
  emptyRule,
  formToRuleset,
  leadFields,
  readConditions,
  readList,
  readScalar,
  rulesetToForm,
  writeList,
  writeScalar,
  type FitRow,
  type RuleRow,
  type RulesetShape,
  type ScoringForm,
} from '../../src/web/scoring-form.js';
import { describeProblems } from '../../src/web/scoring-form-errors.js';

/** The rule set as GET /api/scoring returns it (the schema's output, as JSON). */
const stored = (raw: unknown): RulesetShape => {
  const r = parseRuleset(raw);
  return JSON.parse(
    JSON.stringify({ rules: r.rules, fit: r.fit ?? [], decay: r.decay ?? null, cap: r.cap ?? null }),
  );
};
const roundTrip = (r: RulesetShape) => {
  const parsed = formToRuleset(rulesetToForm(r));
  expect(parsed.issues).toEqual([]);
  return stored(parsed.candidate);
};
const form = (rules: Partial<RuleRow>[], fit: Partial<FitRow>[] = [], more: Partial<ScoringForm> = {}) => ({
  rules: rules.map((r) => ({ ...emptyRule(), ...r })),
  fit: fit.map((f) => ({ ...emptyFit(), ...f })),
  halfLife: '',
  cap: '',
  ...more,
});
/** What the page would say about a form: the form's own problems and the schema's, by row. */
const problems = (f: ScoringForm) => {
  const parsed = formToRuleset(f);
  let details: { path: string; message: string }[] = [];
  try {
    parseRuleset(parsed.candidate);
  } catch (err) {
    details = (err as AppError).details ?? [];
  }
  return describeProblems(parsed, f, details);
};

describe('scoring form values', () => {
  it('when a value is typed, then numbers, booleans, null and quoted text read as such, the rest as text', () => {
    expect(readScalar(' 5 ')).toBe(5);
    expect(readScalar('-1.5e3')).toBe(-1500);
    expect(readScalar('true')).toBe(true);
    expect(readScalar('false')).toBe(false);
    expect(readScalar('null')).toBe(null);
    expect(readScalar('"5"')).toBe('5');
    expect(readScalar('" padded "')).toBe(' padded ');
    expect(readScalar('/pricing')).toBe('/pricing');
    expect(readScalar('05')).toBe('05');
    expect(readScalar('1e999')).toBe('1e999');
    expect(readScalar('"not closed')).toBe('"not closed');
  });

  it('when a string would read as something else, then it is shown JSON-quoted, otherwise as it is', () => {
    expect(writeScalar('/pricing')).toBe('/pricing');
    expect(writeScalar('5')).toBe('"5"');
    expect(writeScalar('true')).toBe('"true"');
    expect(writeScalar('null')).toBe('"null"');
    expect(writeScalar('')).toBe('""');
    expect(writeScalar(' x')).toBe('" x"');
    expect(writeScalar('two\nlines')).toBe('"two\\nlines"');
    expect(writeScalar('a,b')).toBe('a,b');
    expect(writeScalar('a,b', true)).toBe('"a,b"');
    expect(writeScalar('say "hi"', true)).toBe('"say \\"hi\\""');
    expect(writeScalar(5)).toBe('5');
    expect(writeScalar(null)).toBe('null');
  });

  it('when a list is typed, then commas separate items, quoted items keep their commas, empty items are dropped', () => {
    expect(readList('US, GB ,DE')).toEqual({ items: ['US', 'GB', 'DE'] });
    expect(readList('"Acme, Inc", 5, "5", true,, ')).toEqual({ items: ['Acme, Inc', 5, '5', true] });
    expect(readList('"a\\"b", c')).toEqual({ items: ['a"b', 'c'] });
    expect(readList('"open').error).toBe('has a quote that is not closed');
    expect(readList('"a" b').error).toBe('needs a comma after each quoted value');
    expect(writeList(['Acme, Inc', 5, '5', 'US'])).toBe('"Acme, Inc", 5, "5", US');
  });

  it('when conditions are typed, then each line is name = value, and a line without "=" or a repeated name is named', () => {
    expect(readConditions('path = /pricing\r\n\n plan = 5 ').where).toEqual({ path: '/pricing', plan: 5 });
    expect(readConditions('q = a=b').where).toEqual({ q: 'a=b' });
    const bad = readConditions('path /pricing\npath = a\npath = b\n = x\n__proto__ = y');
    expect(bad.errors).toEqual([
      'conditions line 1 needs "=" (write one "name = value" per line)',
      'condition "path" is given twice',
      'conditions line 4 needs a property name before "="',
      'condition "__proto__" is not an allowed property name',
    ]);
    expect(Object.getPrototypeOf(readConditions('__proto__ = y').where)).toBe(Object.prototype);
  });
});

describe('scoring form ↔ rule set', () => {
  const seeded = stored({
    rules: [
      { id: 'pricing', event: 'page_view', where: { path: '/pricing', plan: '5' }, points: 15, maxPerDay: 2 },
      { id: 'demo', event: 'demo_requested', points: 40, maxTotal: 1 },
      { id: 'unsub', event: 'email_unsubscribe', where: { list: null, vip: true }, points: -20 },
    ],
    fit: [
      { id: 'senior', field: 'title', matches: '(CTO|CEO|VP)', points: 20 },
      { id: 'market', field: 'country', in: ['US', 'GB', 'Acme, Inc', '5'], points: 10 },
      { id: 'saas', field: 'attributes.industry', equals: 'SaaS', points: 5 },
    ],
    decay: { halfLife: '30d' },
    cap: 200,
  });

  it('when a rule set is shown and parsed back unchanged, then it is the same rule set', () => {
    const f = rulesetToForm(seeded);
    expect(f.rules[0]).toEqual({
      id: 'pricing',
      event: 'page_view',
      where: 'path = /pricing\nplan = "5"',
      points: '15',
      maxPerDay: '2',
      maxTotal: '',
    });
    expect(f.fit[1]!.value).toBe('US, GB, "Acme, Inc", "5"');
    expect(f.fit[2]).toMatchObject({
      field: 'attributes',
      attribute: 'industry',
      test: 'equals',
      value: 'SaaS',
    });
    expect(roundTrip(seeded)).toEqual(seeded);
  });

  it('when rows are empty or cleared (no id and no event or field), then they add nothing', () => {
    const f = rulesetToForm(seeded);
    f.rules[1] = { ...f.rules[1]!, id: '', event: '' };
    f.rules.push(emptyRule(), emptyRule());
    f.fit.push(emptyFit());
    const out = stored(formToRuleset(f).candidate);
    expect(out.rules.map((r) => r.id)).toEqual(['pricing', 'unsub']);
    expect(out.fit).toHaveLength(3);
  });

  it('when a rule had an empty where, then it comes back without one (the same meaning)', () => {
    const r = stored({ rules: [{ id: 'a', event: 'e', where: {}, points: 1 }] });
    expect(roundTrip(r).rules[0]).toEqual({ id: 'a', event: 'e', points: 1 });
  });

  it('when a bad row is typed, then the problem names the row, its rule id and the input, in words', () => {
    const p = problems(
      form([
        { id: 'ok', event: 'page_view', points: '1' },
        { id: 'pricing', event: 'page_view', points: 'lots', where: '$gt = 1\nno equals sign' },
        { id: 'ok', event: 'x', points: '2', maxPerDay: '0' },
      ]),
    );
    expect(p.messages).toEqual([
      'Rule 2 (pricing): conditions line 2 needs "=" (write one "name = value" per line)',
      'Rule 2 (pricing): condition "$gt" must be named with 1-64 letters, digits, "_" or "-" (no "$" or ".")',
      'Rule 2 (pricing): points must be a number (you typed “lots”)',
      'Rule 3 (ok): max per day must be at least 1',
      'Rule 3 (ok): duplicate rule id "ok"',
    ]);
    expect([...p.invalid].sort()).toEqual([
      'rules:2:points',
      'rules:2:where',
      'rules:3:id',
      'rules:3:maxPerDay',
    ]);
  });

  it('when fit rows, decay or cap are wrong, then each is named by its row or its box', () => {
    const p = problems(
      form(
        [],
        [
          { id: 'f1', field: 'title', test: 'matches', value: '(a+)+', points: '5' },
          emptyFit(),
          { id: 'f3', field: 'country', test: 'in', value: '', points: '' },
          { id: 'f4', field: 'title', attribute: 'industry', test: 'equals', value: 'x', points: '1' },
          { id: 'f5', field: 'title', test: 'sounds-like', value: 'x', points: '1' },
        ],
        { halfLife: '-1d', cap: 'big' },
      ),
    );
    expect(p.messages).toEqual([
      'Fit rule 4 (f4): the attribute name "industry" is only used with the field "Attribute…"',
      'Fit rule 1 (f1): pattern nested quantifiers (e.g. "(a+)+") are not allowed',
      'Fit rule 3 (f3): list needs at least one value',
      'Fit rule 3 (f3): points must be a number (the box is empty)',
      'Fit rule 5 (f5): test must be equals, matches or in',
      'Decay half-life must be a positive duration like "30d" ("s", "m", "h", "d", "w")',
      'Score cap must be a number (you typed “big”)',
    ]);
    expect(p.invalid).toContain('fit:1:value');
    expect(p.invalid).toContain('fit:5:test');
    expect(p.invalid).toContain('settings:0:cap');
  });

  it('when an attribute name is typed with no field chosen, then it is that attribute', () => {
    const out = stored(
      formToRuleset(form([], [{ id: 'a', attribute: 'size', value: '50', points: '3' }])).candidate,
    );
    expect(out.fit[0]).toEqual({ id: 'a', field: 'attributes.size', equals: 50, points: 3 });
  });
});

// ---- property: for any valid rule set, the form shows it and reads back the same rule set ----
const tricky = fc.constantFrom(
  '5',
  '-0',
  '1e5',
  'true',
  'false',
  'null',
  '',
  ' ',
  ' a',
  'a ',
  '"x"',
  'a,b',
  'a"b',
  '"',
  '\\',
  'a = b',
  'x\ny',
  '\t',
  '\u00a0x',
  '"a"b"',
);
const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ maxLength: 20 }), tricky);
const scalar = fc.oneof(
  text,
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);
const propertyName = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/).filter((k) => k !== '__proto__');
const rule = fc.record(
  {
    id: fc.stringMatching(/^[A-Za-z0-9_.-]{1,16}$/),
    event: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,20}$/),
    where: fc.dictionary(propertyName, scalar, { minKeys: 1, maxKeys: 4 }),
    points: fc.integer({ min: -100_000, max: 100_000 }),
    maxPerDay: fc.integer({ min: 1, max: 100_000 }),
    maxTotal: fc.integer({ min: 1, max: 100_000 }),
  },
  { requiredKeys: ['id', 'event', 'points'] },
);
const safePattern = fc.oneof(
  fc.constantFrom('(CTO|CEO|VP)', '^a.*b$', ' padded ', 'a,b', '"quoted"', '5', 'true'),
  fc.string({ minLength: 1, maxLength: 20 }).filter((p) => {
    try {
      new RegExp(p);
    } catch {
      return false;
    }
    return unsafePattern(p) === undefined;
  }),
);
const fitRule = fc.record({
  id: fc.stringMatching(/^[A-Za-z0-9_.-]{1,16}$/),
  field: fc.oneof(fc.constantFrom(...leadFields), fc.stringMatching(/^attributes\.[A-Za-z0-9_-]{1,12}$/)),
  test: fc.oneof(
    scalar.map((v) => ({ equals: v })),
    safePattern.map((v) => ({ matches: v })),
    fc.array(scalar, { minLength: 1, maxLength: 5 }).map((v) => ({ in: v })),
  ),
  points: fc.integer({ min: 1, max: 100_000 }),
});
const ruleset = fc.record({
  rules: fc.uniqueArray(rule, { maxLength: 6, selector: (r) => r.id }),
  fit: fc.uniqueArray(fitRule, { maxLength: 4, selector: (r) => r.id }),
  decay: fc.option(fc.record({ halfLife: fc.stringMatching(/^[1-9]\d{0,3}[smhdw]$/) })),
  cap: fc.option(fc.integer({ min: 1, max: 10_000_000 })),
});

describe('scoring form round trip (property)', () => {
  it('when any valid rule set is shown in the form and parsed back, then it is the same rule set', () => {
    fc.assert(
      fc.property(ruleset, (raw) => {
        const input = {
          ...raw,
          fit: raw.fit.map(({ test, ...f }) => ({ id: f.id, field: f.field, ...test, points: f.points })),
        };
        const r = stored(input);
        expect(roundTrip(r)).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });
});
