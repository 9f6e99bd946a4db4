import type { LeadInput } from './lead.schemas.js';
import { cleanText, countryCode, emailKey, phoneE164 } from './normalize.js';
import { leadFields, type LeadField } from './lead.model.js';

/** A lead input after normalisation: what is compared, stored and kept in the timeline. */
export type NormalizedLead = {
  email: string;
  emailKey: string;
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  title: string | null;
  phone: string | null;
  country: string | null;
  source: string | null;
  attributes: Record<string, string | number | boolean | null>;
  /** the person opted out of marketing email with this submission */
  emailOptOut?: true;
};

/** The fields a repeat submission may fill when they are empty on the existing lead. */
export const fillableFields = leadFields.filter((f): f is Exclude<LeadField, 'email'> => f !== 'email');

/**
 * Email trimmed (display form kept) with a case-folded key, names trimmed, country as ISO code
 * (unknown names are dropped: a country we cannot name helps no rule), phone in E.164.
 */
export function normalizeLeadInput(input: LeadInput, defaultSource?: string | null): NormalizedLead {
  const country = countryCode(input.country);
  const attributes: NormalizedLead['attributes'] = {};
  for (const [k, v] of Object.entries(input.attributes ?? {})) {
    const value = typeof v === 'string' ? cleanText(v) : v;
    if (value !== null && value !== undefined) attributes[k] = value;
  }
  return {
    email: input.email.trim(),
    emailKey: emailKey(input.email),
    firstName: cleanText(input.firstName),
    lastName: cleanText(input.lastName),
    company: cleanText(input.company),
    title: cleanText(input.title),
    phone: phoneE164(input.phone, country),
    country,
    source: cleanText(input.source) ?? cleanText(defaultSource) ?? null,
    attributes,
    ...(input.emailOptOut === true ? { emailOptOut: true as const } : {}),
  };
}

const isEmpty = (v: unknown) => v === null || v === undefined || v === '';

/**
 * What a repeat submission adds to what we know: every field (and attribute) that is empty on
 * `existing` and given in `incoming`. Existing values are never overwritten.
 */
export function fillEmptyFields(
  existing: Partial<Record<(typeof fillableFields)[number], unknown>> & { attributes?: unknown },
  incoming: NormalizedLead,
): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  for (const f of fillableFields) {
    if (isEmpty(existing[f]) && !isEmpty(incoming[f])) set[f] = incoming[f];
  }
  const attrs = (existing.attributes ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(incoming.attributes)) {
    if (isEmpty(attrs[k]) && !isEmpty(v)) set[`attributes.${k}`] = v;
  }
  return set;
}

/** Folds a later input of the same batch into the first: the first's values win, gaps are filled. */
export function combineInputs(first: NormalizedLead, later: NormalizedLead): NormalizedLead {
  const out: NormalizedLead = { ...first, attributes: { ...first.attributes } };
  if (later.emailOptOut) out.emailOptOut = true;
  for (const f of fillableFields) if (isEmpty(out[f])) out[f] = later[f];
  for (const [k, v] of Object.entries(later.attributes))
    if (isEmpty(out.attributes[k])) out.attributes[k] = v;
  return out;
}
