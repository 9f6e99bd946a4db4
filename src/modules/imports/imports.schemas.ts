import { z } from 'zod';
import { cleanText, isChecked, leadInputSchema, type LeadInput } from '../leads/index.js';
import type { HeaderMapping, ImportField } from './header-map.js';

/** Marks a record the line guard cut because it was too large (a NUL never occurs in text CSV). */
export const oversizedMarker = '\u0000leadflow:oversized\u0000';

/** At most this many custom attributes per lead (the capture schema's limit). */
export const maxAttributes = 100;

export type RowResult = { ok: true; lead: LeadInput } | { ok: false; reasons: string[] };

/** Names reach pages and email headers: markup and line breaks are removed here, at the door. */
export function cleanName(v: string): string | undefined {
  return cleanText(v.replace(/<[^>]*>/g, ' ').replace(/[<>]/g, '')) ?? undefined;
}

/**
 * Turns one parsed record into a lead input, or the reasons it cannot be one. Pure: the same
 * record always gives the same answer, so a re-run imports the same leads. Validation is the
 * capture schema's, so an imported lead obeys the same rules as a form's or the API's.
 */
export function toLeadInput(fields: string[], mapping: HeaderMapping): RowResult {
  const expected = mapping.columns.length;
  if (fields.some((f) => f.includes(oversizedMarker))) {
    return { ok: false, reasons: ['the row is too large (a field exceeds the size limit)'] };
  }
  // Spreadsheet exports often pad rows with empty trailing cells; anything else ragged is rejected.
  if (fields.length < expected || fields.slice(expected).some((f) => f.trim() !== '')) {
    return { ok: false, reasons: [`the row has ${fields.length} columns, the header has ${expected}`] };
  }
  const reasons: string[] = [];
  const values: Partial<Record<ImportField, string>> = {};
  const attributes: Record<string, string> = {};
  let emailOptOut = false;
  for (let i = 0; i < expected; i++) {
    const raw = fields[i]!;
    if (raw === '') continue;
    const target = mapping.columns[i]!;
    if (target.kind === 'ignore') continue;
    if (raw.includes('\uFFFD')) {
      reasons.push(`${mapping.headers[i]}: is not valid UTF-8`);
      continue;
    }
    if (target.kind === 'optOut') {
      emailOptOut ||= isChecked(raw);
    } else if (target.kind === 'field') {
      if (values[target.key] !== undefined) continue; // first non-empty column wins
      const v = target.key === 'email' ? raw.trim() : cleanName(raw);
      if (v) values[target.key] = v;
    } else if (attributes[target.key] === undefined) {
      const v = cleanText(raw);
      if (v) attributes[target.key] = v;
    }
  }
  if (reasons.length > 0) return { ok: false, reasons };
  if (values.email === undefined) return { ok: false, reasons: ['email: is required'] };
  const parsed = leadInputSchema.safeParse({
    ...values,
    attributes,
    ...(emailOptOut ? { emailOptOut: true } : {}),
  });
  if (!parsed.success) {
    return {
      ok: false,
      reasons: parsed.error.issues.map((i) => {
        const path = i.path.map(String);
        return `${(path[0] === 'attributes' ? path[1] : path[0]) ?? 'row'}: ${i.message}`;
      }),
    };
  }
  return { ok: true, lead: parsed.data };
}

/** `POST /api/imports` query string. */
export const importQuery = z.strictObject({
  source: z
    .string()
    .max(200)
    .transform((v) => cleanName(v) ?? '')
    .pipe(z.string().min(1, 'is required')),
  sequence: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be a sequence key')
    .optional(),
  dryRun: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => v === 'true' || v === '1'),
});

export const importIdParams = z.object({ id: z.string().regex(/^[a-f0-9]{24}$/, 'must be an id') });
