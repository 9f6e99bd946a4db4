import { z } from 'zod';
import { parseDuration } from '../../lib/clock.js';
import { validationFailed, type ErrorDetail } from '../../lib/errors.js';
import { zodDetails } from '../../lib/http.js';
import { leadFields } from '../leads/index.js';

/** Longest `matches` pattern accepted, and the longest field value a pattern is ever run on. */
export const maxPatternLength = 200;
export const maxMatchInput = 1024;

const ruleId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, "_", "." or "-"');
const propertyName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-" (no "$" or ".")');
const scalar = z.union([z.string().max(500), z.number(), z.boolean(), z.null()]);
const points = z
  .number({ error: 'must be a number' })
  .int('must be a whole number')
  .min(-100_000)
  .max(100_000);

/**
 * Where a `matches` pattern could take exponential time (a quantified group that itself contains
 * a quantifier or an alternation, e.g. `(a+)+`, `(a|aa)*`) or refers back to a group, or names
 * the reason; undefined when it is safe enough. Input is also bounded (maxMatchInput).
 */
export function unsafePattern(pattern: string): string | undefined {
  if (/\\[1-9]|\\k</.test(pattern)) return 'back-references are not allowed';
  const stack: { risky: boolean }[] = [];
  let lastGroupRisky = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      lastGroupRisky = false;
      continue;
    }
    if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      i = end < 0 ? pattern.length : end;
      lastGroupRisky = false;
      continue;
    }
    if (c === '(') {
      stack.push({ risky: false });
      continue;
    }
    if (c === ')') {
      const g = stack.pop();
      lastGroupRisky = !!g?.risky;
      if (g?.risky && stack.length) stack[stack.length - 1]!.risky = true;
      continue;
    }
    const quantifier = c === '*' || c === '+' || c === '?' || c === '{';
    if (quantifier && lastGroupRisky && c !== '?') return 'nested quantifiers (e.g. "(a+)+") are not allowed';
    if ((quantifier && c !== '?') || c === '|') {
      if (stack.length) stack[stack.length - 1]!.risky = true;
    }
    lastGroupRisky = false;
  }
  return undefined;
}

const pattern = z
  .string()
  .min(1)
  .max(maxPatternLength, `must be at most ${maxPatternLength} characters`)
  .superRefine((p, ctx) => {
    try {
      new RegExp(p);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `is not a valid regular expression: ${(err as Error).message}`,
      });
      return;
    }
    const why = unsafePattern(p);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  });

/** The lead fields a fit rule can test, besides `attributes.<name>` (the web form's menu too). */
export const fitFields = [...leadFields, 'status', 'lifecycleStage'] as const;

const fieldName = z
  .string()
  .regex(
    new RegExp(`^(${fitFields.join('|')}|attributes\\.[A-Za-z0-9_-]{1,64})$`),
    `must be a lead field (${fitFields.join(', ')}) or attributes.<name>`,
  );

const ruleSchema = z.strictObject({
  id: ruleId,
  event: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'must be an event type (1-100 letters, digits, "_.:-")'),
  where: z
    .record(propertyName, scalar)
    .refine((w) => Object.keys(w).length <= 20, 'at most 20 conditions')
    .optional(),
  points,
  maxPerDay: z.number().int('must be a whole number').min(1).max(100_000).optional(),
  maxTotal: z.number().int('must be a whole number').min(1).max(100_000).optional(),
});

const fitSchema = z
  .strictObject({
    id: ruleId,
    field: fieldName,
    equals: scalar.optional(),
    matches: pattern.optional(),
    in: z.array(scalar).min(1).max(200).optional(),
    points: z.number().int('must be a whole number').min(1, 'must be positive').max(100_000),
  })
  .superRefine((f, ctx) => {
    const given = ['equals', 'matches', 'in'].filter((k) => (f as Record<string, unknown>)[k] !== undefined);
    if (given.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: 'needs exactly one of equals, matches or in',
        path: ['equals'],
      });
  });

const halfLife = z.string().superRefine((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined)
    ctx.addIssue({
      code: 'custom',
      message: 'must be a positive duration like "30d" ("s", "m", "h", "d", "w")',
    });
  else if (ms <= 0) ctx.addIssue({ code: 'custom', message: 'must be longer than zero' });
});

/** Duplicate rule ids, found on the raw input so they are named together with every other problem. */
function duplicateIds(raw: unknown): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const key of ['rules', 'fit']) {
    const list = (raw as Record<string, unknown> | null)?.[key];
    if (!Array.isArray(list)) continue;
    const seen = new Set<string>();
    list.forEach((r: unknown, i) => {
      const id = (r as { id?: unknown } | null)?.id;
      if (typeof id !== 'string') return;
      if (seen.has(id))
        out.push({ path: `${key}.${i}.id`, message: `duplicate rule id "${id.slice(0, 64)}"` });
      seen.add(id);
    });
  }
  return out;
}

/** The body of PUT /api/scoring. */
export const rulesetInput = z.strictObject({
  rules: z.array(ruleSchema).max(500, 'at most 500 rules'),
  fit: z.array(fitSchema).max(200, 'at most 200 fit rules').optional(),
  decay: z.strictObject({ halfLife }).nullable().optional(),
  cap: z.number().int('must be a whole number').min(1).max(10_000_000).nullable().optional(),
});
export type RulesetInput = z.infer<typeof rulesetInput>;

/** PUT /api/scoring's body, or 400 validation_failed naming every bad field (duplicates included). */
export function parseRuleset(raw: unknown): RulesetInput {
  const r = rulesetInput.safeParse(raw);
  const details = [...(r.success ? [] : zodDetails(r.error)), ...duplicateIds(raw)];
  if (details.length) throw validationFailed(details, 'the scoring rule set is not valid');
  return r.data!;
}
export type ScoringRule = z.infer<typeof ruleSchema>;
export type FitRule = z.infer<typeof fitSchema>;

export const rulesetQuery = z.strictObject({
  version: z.coerce.number().int().min(1).max(1_000_000_000).optional(),
});
