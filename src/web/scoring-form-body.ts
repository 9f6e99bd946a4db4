/**
 * The body of `POST /app/scoring/form`: flat repeated fields, one of each per row (`rule_id`,
 * `rule_event`, `rule_where`, `rule_points`, `rule_maxPerDay`, `rule_maxTotal`; `fit_id`,
 * `fit_field`, `fit_attribute`, `fit_test`, `fit_value`, `fit_points`), plus `halfLife`, `cap` and
 * `more` (add empty rows instead of saving). The urlencoded parser gives a string for one row and
 * an array for several; every input is in every row, so the arrays line up (or the body is refused).
 */
import express from 'express';
import { z } from 'zod';
import { badRequest } from '../lib/errors.js';
import { parseInput, requireUtf8 } from '../lib/http.js';
import type { FitRow, RuleRow, ScoringForm } from './scoring-form.js';

/** Rows accepted per table: the schema's 500 rules and 200 fit rules, plus room for empty rows. */
export const maxRuleRows = 600;
export const maxFitRows = 300;
/** Empty rows a page adds at a time, and at most in all (`?rows=N`). */
export const addRows = 3;
export const maxExtraRows = 100;

const ruleFields = ['id', 'event', 'where', 'points', 'maxPerDay', 'maxTotal'] as const;
const fitFields = ['id', 'field', 'attribute', 'test', 'value', 'points'] as const;

/** The form's own body parser: more parameters than other pages (six per row), still bounded. */
export const scoringFormBody = express.urlencoded({
  extended: false,
  limit: '512kb',
  parameterLimit: (maxRuleRows + maxFitRows) * 6 + 100,
  verify: requireUtf8('the form is not valid UTF-8'),
});

const cell = (max: number) => z.union([z.string().max(max), z.array(z.string().max(max))]).optional();
const shape: Record<string, z.ZodType> = { _csrf: z.string(), halfLife: cell(40), cap: cell(40) };
for (const f of ruleFields) shape[`rule_${f}`] = cell(f === 'where' ? 20_000 : 200);
for (const f of fitFields) shape[`fit_${f}`] = cell(f === 'value' ? 20_000 : 200);
shape.more = z.enum(['rules', 'fit']).optional();
const formSchema = z.strictObject(shape);

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [String(v)]);

function table<F extends string>(
  body: Record<string, unknown>,
  prefix: string,
  fields: readonly F[],
  max: number,
  what: string,
): Record<F, string>[] {
  const columns = fields.map((f) => list(body[`${prefix}${f}`]));
  const rows = Math.max(...columns.map((c) => c.length));
  if (rows > max) throw badRequest(`the form has ${rows} ${what} rows: at most ${max} are accepted`);
  const short = fields.filter((_, i) => columns[i]!.length !== rows);
  if (short.length)
    throw badRequest(
      `the ${what} rows do not line up: ${short.map((f) => `${prefix}${f}`).join(', ')} ` +
        `must be given once per row (${rows} rows)`,
    );
  return Array.from({ length: rows }, (_, r) => {
    const row = {} as Record<F, string>;
    fields.forEach((f, i) => (row[f] = columns[i]![r]!));
    return row;
  });
}

/** The form as posted, or 400 naming what is malformed (unknown fields, misaligned or too many rows). */
export function readScoringForm(raw: unknown): { form: ScoringForm; more?: 'rules' | 'fit' } {
  const body = parseInput(formSchema, raw ?? {}, 'the scoring form is not valid') as Record<string, unknown>;
  const single = (k: string) => {
    const v = body[k];
    if (Array.isArray(v)) throw badRequest(`${k} must be given once`);
    return typeof v === 'string' ? v : '';
  };
  return {
    form: {
      rules: table(body, 'rule_', ruleFields, maxRuleRows, 'engagement rule') as RuleRow[],
      fit: table(body, 'fit_', fitFields, maxFitRows, 'fit rule') as FitRow[],
      halfLife: single('halfLife'),
      cap: single('cap'),
    },
    more: body.more as 'rules' | 'fit' | undefined,
  };
}
