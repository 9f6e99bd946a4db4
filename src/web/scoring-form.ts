/**
 * The scoring page's form ↔ rule set conversion (pure, no I/O). A rule set renders into rows of
 * text (what the inputs show) and rows of text parse back into the rule set a PUT /api/scoring
 * takes; rendering a rule set and parsing it back gives the same rule set (test/unit/scoring-form).
 *
 * Values (`where`, `equals`, `in`) are scalars. A string shows as typed unless it would read back
 * as something else (`5`, `true`, `null`, surrounding spaces, a line break, an empty string, or a
 * comma or quote inside a list), in which case it shows JSON-quoted (`"5"`). `5`, `true`, `false`
 * and `null` read as a number, booleans and null; `"…"` as the string inside the quotes.
 */
import { fitFields } from '../modules/scoring/index.js';

export type Scalar = string | number | boolean | null;

/** One engagement rule as its row's inputs hold it. */
export type RuleRow = {
  id: string;
  event: string;
  /** one `key = value` per line */
  where: string;
  points: string;
  maxPerDay: string;
  maxTotal: string;
};

/** One fit rule as its row's inputs hold it: `field` is a lead field, `attributes` or empty. */
export type FitRow = {
  id: string;
  field: string;
  /** the attribute's name when `field` is `attributes` */
  attribute: string;
  test: string;
  value: string;
  points: string;
};

export type ScoringForm = { rules: RuleRow[]; fit: FitRow[]; halfLife: string; cap: string };

/** The rule set as GET /api/scoring holds it (rules, fit, decay, cap). */
export type RulesetShape = {
  rules: Record<string, unknown>[];
  fit: Record<string, unknown>[];
  decay: { halfLife: string } | null;
  cap: number | null;
};

/** A problem the form itself finds (the schema finds the rest): which row and which input. */
export type FormIssue = { table: 'rules' | 'fit' | 'settings'; row: number; input: string; message: string };

/** What a form reads as: the candidate rule set and, for each rule in it, its row in the form. */
export type ParsedForm = {
  candidate: RulesetShape;
  ruleRows: number[];
  fitRows: number[];
  issues: FormIssue[];
};

/** The lead fields a fit rule can test (the schema's own list), plus `attributes.<name>`. */
export const leadFields = fitFields;
export const fitTests = ['equals', 'matches', 'in'] as const;

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** A value as typed: `true`/`false`/`null`, a JSON number, a JSON-quoted string, or the text. */
export function readScalar(text: string): Scalar {
  const t = text.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t === 'null') return null;
  if (NUMBER.test(t)) {
    const n = Number(t);
    if (Number.isFinite(n)) return n;
  }
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) {
    try {
      const v: unknown = JSON.parse(t);
      if (typeof v === 'string') return v;
    } catch {
      // not JSON: the text as typed
    }
  }
  return t;
}

/** A value as the form shows it; `inList` also quotes strings holding a comma or a quote. */
export function writeScalar(v: Scalar, inList = false): string {
  if (typeof v !== 'string') return String(v);
  const plain = v !== '' && !/[\r\n]/.test(v) && !(inList && /[",]/.test(v)) && readScalar(v) === v;
  return plain ? v : JSON.stringify(v);
}

/** A comma-separated list of values (quoted items may hold commas), or the reason it is not one. */
export function readList(text: string): { items: Scalar[]; error?: string } {
  const items: Scalar[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  while (i < text.length) {
    skipSpace();
    if (i >= text.length) break;
    if (text[i] === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) return { items, error: 'has a quote that is not closed' };
      try {
        items.push(JSON.parse(text.slice(i, j + 1)) as string);
      } catch {
        return { items, error: `has a quoted value that is not valid: ${text.slice(i, j + 1).slice(0, 40)}` };
      }
      i = j + 1;
      skipSpace();
      if (i < text.length && text[i] !== ',')
        return { items, error: 'needs a comma after each quoted value' };
      i++;
      continue;
    }
    const end = text.indexOf(',', i);
    const raw = text.slice(i, end < 0 ? text.length : end).trim();
    if (raw) items.push(readScalar(raw));
    i = end < 0 ? text.length : end + 1;
  }
  return { items };
}

export const writeList = (items: Scalar[]): string => items.map((v) => writeScalar(v, true)).join(', ');

/** `key = value` lines, or the problems found in them (by line). */
export function readConditions(text: string): { where: Record<string, Scalar>; errors: string[] } {
  const entries: [string, Scalar][] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  text.split(/\r\n|\r|\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? '' : line.slice(0, eq).trim();
    if (eq < 0) errors.push(`conditions line ${i + 1} needs "=" (write one "name = value" per line)`);
    else if (!key) errors.push(`conditions line ${i + 1} needs a property name before "="`);
    else if (key === '__proto__') errors.push(`condition "${key}" is not an allowed property name`);
    else if (seen.has(key)) errors.push(`condition "${key}" is given twice`);
    else {
      seen.add(key);
      entries.push([key, readScalar(line.slice(eq + 1))]);
    }
  });
  // fromEntries makes own properties (as JSON.parse does), whatever the names
  return { where: Object.fromEntries(entries), errors };
}

const writeConditions = (where: Record<string, unknown> | undefined): string =>
  Object.entries(where ?? {})
    .map(([k, v]) => `${k} = ${writeScalar(v as Scalar)}`)
    .join('\n');

/** A number box: a JSON-like number as a number, empty as absent, anything else as typed. */
function readNumber(text: string): number | string | undefined {
  const t = text.trim();
  if (!t) return undefined;
  if (/^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/.test(t)) {
    const n = Number(t);
    if (Number.isFinite(n)) return n;
  }
  return t;
}

const num = (v: unknown): string => (typeof v === 'number' ? String(v) : '');

export const emptyRule = (): RuleRow => ({
  id: '',
  event: '',
  where: '',
  points: '',
  maxPerDay: '',
  maxTotal: '',
});
export const emptyFit = (): FitRow => ({
  id: '',
  field: '',
  attribute: '',
  test: 'equals',
  value: '',
  points: '',
});

function fitToRow(f: Record<string, unknown>): FitRow {
  const field = String(f.field ?? '');
  const attr = field.startsWith('attributes.');
  const test = fitTests.find((t) => f[t] !== undefined) ?? 'equals';
  const v = f[test];
  const value =
    test === 'matches'
      ? String(v ?? '')
      : test === 'in'
        ? writeList((v ?? []) as Scalar[])
        : writeScalar(v as Scalar);
  return {
    id: String(f.id ?? ''),
    field: attr ? 'attributes' : field,
    attribute: attr ? field.slice('attributes.'.length) : '',
    test,
    value,
    points: num(f.points),
  };
}

/** The form showing a rule set (without the empty rows to add rules). */
export function rulesetToForm(r: RulesetShape): ScoringForm {
  return {
    rules: r.rules.map((x) => ({
      id: String(x.id ?? ''),
      event: String(x.event ?? ''),
      where: writeConditions(x.where as Record<string, unknown> | undefined),
      points: num(x.points),
      maxPerDay: num(x.maxPerDay),
      maxTotal: num(x.maxTotal),
    })),
    fit: r.fit.map(fitToRow),
    halfLife: r.decay?.halfLife ?? '',
    cap: r.cap === null || r.cap === undefined ? '' : String(r.cap),
  };
}

/** Rows whose id and event (or field) are both empty add nothing: that is how a rule is removed. */
const isBlankRule = (r: RuleRow) => !r.id.trim() && !r.event.trim();
const isBlankFit = (f: FitRow) => !f.id.trim() && !f.field.trim() && !f.attribute.trim();

/** Puts `v` on `o` under `k` unless it is undefined (so absent stays absent). */
const put = (o: Record<string, unknown>, k: string, v: unknown) => {
  if (v !== undefined) o[k] = v;
};

function rowToRule(row: RuleRow, n: number, issues: FormIssue[]): Record<string, unknown> {
  const rule: Record<string, unknown> = { id: row.id.trim(), event: row.event.trim() };
  const { where, errors } = readConditions(row.where);
  for (const message of errors) issues.push({ table: 'rules', row: n, input: 'where', message });
  if (Object.keys(where).length) rule.where = where;
  // points is required: an empty box reaches the schema as absent and is named there
  put(rule, 'points', readNumber(row.points));
  put(rule, 'maxPerDay', readNumber(row.maxPerDay));
  put(rule, 'maxTotal', readNumber(row.maxTotal));
  return rule;
}

function fitField(row: FitRow, n: number, issues: FormIssue[]): string {
  const field = row.field.trim();
  const attribute = row.attribute.trim();
  if (field === 'attributes' || (!field && attribute)) return `attributes.${attribute}`;
  if (attribute)
    issues.push({
      table: 'fit',
      row: n,
      input: 'attribute',
      message: `the attribute name "${attribute.slice(0, 64)}" is only used with the field "Attribute…"`,
    });
  return field;
}

function rowToFit(row: FitRow, n: number, issues: FormIssue[]): Record<string, unknown> {
  const fit: Record<string, unknown> = { id: row.id.trim(), field: fitField(row, n, issues) };
  const test = row.test.trim();
  if (test === 'equals') fit.equals = readScalar(row.value);
  else if (test === 'matches') fit.matches = row.value;
  else if (test === 'in') {
    const { items, error } = readList(row.value);
    if (error) issues.push({ table: 'fit', row: n, input: 'value', message: `the list ${error}` });
    fit.in = items;
  }
  // any other test sets no value: the schema's "needs exactly one of" names the row's test

  put(fit, 'points', readNumber(row.points));
  return fit;
}

/** The rule set the form describes (for the schema to judge), and what the form itself found wrong. */
export function formToRuleset(form: ScoringForm): ParsedForm {
  const issues: FormIssue[] = [];
  const ruleRows: number[] = [];
  const fitRows: number[] = [];
  const rules: Record<string, unknown>[] = [];
  const fit: Record<string, unknown>[] = [];
  form.rules.forEach((row, i) => {
    if (isBlankRule(row)) return;
    ruleRows.push(i + 1);
    rules.push(rowToRule(row, i + 1, issues));
  });
  form.fit.forEach((row, i) => {
    if (isBlankFit(row)) return;
    fitRows.push(i + 1);
    fit.push(rowToFit(row, i + 1, issues));
  });
  const halfLife = form.halfLife.trim();
  const cap = readNumber(form.cap);
  return {
    candidate: {
      rules,
      fit,
      decay: halfLife ? { halfLife } : null,
      cap: (cap ?? null) as number | null,
    },
    ruleRows,
    fitRows,
    issues,
  };
}
