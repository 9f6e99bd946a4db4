import { z } from 'zod';
import { cleanText } from '../leads/normalize.js';
import type { HeaderMapping, ImportField } from './header-map.js';

/** Longest value kept for a name-like lead field, and for a custom attribute. */
export const maxFieldChars = 200;
export const maxAttributeChars = 5000;

/** Marks a record the line guard cut because it was too large (a NUL never occurs in text CSV). */
export const oversizedMarker = '\u0000leadflow:oversized\u0000';

/** One lead as a CSV row describes it, cleaned and validated. */
export type ImportLead = {
  email: string;
  firstName?: string;
  lastName?: string;
  company?: string;
  title?: string;
  phone?: string;
  country?: string;
  attributes: Record<string, string>;
};

export type RowResult = { ok: true; lead: ImportLead } | { ok: false; reasons: string[] };

/** Names reach pages and email headers: markup and line breaks are removed, not escaped later. */
export function cleanName(v: string): string | undefined {
  const s = cleanText(v.replace(/<[^>]*>/g, ' ').replace(/[<>]/g, ''));
  return s ?? undefined;
}

const text = (max: number) => z.string().max(max, `must be at most ${max} characters`);

const rowSchema = z.strictObject({
  email: z.email('must be a valid email address').max(254, 'must be at most 254 characters'),
  firstName: text(maxFieldChars).optional(),
  lastName: text(maxFieldChars).optional(),
  company: text(maxFieldChars).optional(),
  title: text(maxFieldChars).optional(),
  phone: text(50).optional(),
  country: text(100).optional(),
  attributes: z.record(z.string(), text(maxAttributeChars)),
});

/**
 * Turns one parsed record into a lead, or the reasons it cannot be one. Pure: the same record
 * always gives the same answer, so a re-run imports the same leads.
 */
export function toImportLead(fields: string[], mapping: HeaderMapping): RowResult {
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
  for (let i = 0; i < expected; i++) {
    const raw = fields[i]!;
    if (raw === '') continue;
    const target = mapping.columns[i]!;
    if (target.kind === 'ignore') continue;
    if (raw.includes('\uFFFD')) {
      reasons.push(`${mapping.headers[i]}: is not valid UTF-8`);
      continue;
    }
    if (target.kind === 'field') {
      if (values[target.key] !== undefined) continue; // first non-empty column wins
      const v = target.key === 'email' ? raw.trim() : cleanName(raw);
      if (v) values[target.key] = v;
    } else if (attributes[target.key] === undefined) {
      const v = cleanText(raw);
      if (v) attributes[target.key] = v;
    }
  }
  if (reasons.length > 0) return { ok: false, reasons };
  const parsed = rowSchema.safeParse({ ...values, attributes });
  if (!parsed.success) {
    return {
      ok: false,
      reasons: parsed.error.issues.map((i) => {
        const path = i.path.map(String);
        const name = path[0] === 'attributes' ? path[1] : path[0];
        return `${name ?? 'row'}: ${values.email === undefined && path[0] === 'email' ? 'is required' : i.message}`;
      }),
    };
  }
  return { ok: true, lead: parsed.data };
}

/** `POST /api/imports` query string. */
export const importQuery = z.strictObject({
  source: z.string().trim().min(1, 'is required').max(200),
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
