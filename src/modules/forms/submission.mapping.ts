import type { LeadInput } from '../leads/index.js';
import type { ErrorDetail } from '../../lib/errors.js';

/** What mapping needs of a form. */
export type FormRules = {
  fields: { name: string; required?: boolean | null }[];
  honeypot: string;
  minFillSeconds: number;
};

/** Lead fields by every name a form may use: ours (camelCase) and Salesforce Web-to-Lead's. */
const standardNames: Record<string, keyof Omit<LeadInput, 'attributes'>> = {
  email: 'email',
  firstName: 'firstName',
  first_name: 'firstName',
  lastName: 'lastName',
  last_name: 'lastName',
  company: 'company',
  title: 'title',
  phone: 'phone',
  country: 'country',
  source: 'source',
  lead_source: 'source',
};

/** Web-to-Lead fields we keep as attributes (their Salesforce meaning, our attribute name). */
const webToLeadAttributes: Record<string, string> = {
  mobile: 'mobile',
  street: 'street',
  city: 'city',
  state: 'state',
  zip: 'zip',
  URL: 'website',
  description: 'description',
  industry: 'industry',
};

/** Web-to-Lead's bookkeeping and our own control fields: never data. */
const ignored = new Set(['oid', 'encoding', 'retURL', 'debug', 'debugEmail', '_ts', 'submit']);

export type MappedSubmission = {
  input: LeadInput;
  /** undeclared fields with plain names and short text, kept on the submission event only */
  extra: Record<string, string>;
  /** the submitted name of each lead field (to name fields in errors as the form did) */
  submittedName: Record<string, string>;
  errors: ErrorDetail[];
};

const fieldValue = (v: unknown): string | undefined | null =>
  v === undefined ? undefined : typeof v === 'string' ? v : null;

/**
 * Maps a submission (urlencoded or JSON) to a lead input: standard and Web-to-Lead names to lead
 * fields, declared fields and Web-to-Lead extras to attributes. A value that is not a string
 * (arrays from repeated fields, objects such as `{"$gt": ""}`) is an error naming the field.
 */
export function mapSubmission(body: Record<string, unknown>, form: FormRules): MappedSubmission {
  const input: Record<string, unknown> = {};
  const attributes: Record<string, string> = {};
  const extra: Record<string, string> = {};
  const submittedName: Record<string, string> = {};
  const errors: ErrorDetail[] = [];
  const declared = new Map(form.fields.map((f) => [f.name, f]));

  for (const [name, raw] of Object.entries(body)) {
    if (ignored.has(name) || name === form.honeypot) continue;
    const value = fieldValue(raw);
    if (value === null) {
      errors.push({ path: name, message: 'must be a single text value' });
      continue;
    }
    if (value === undefined || value.trim() === '') continue;
    const std = standardNames[name];
    if (std) {
      if (input[std] === undefined) {
        input[std] = value;
        submittedName[std] = name;
      }
    } else if (webToLeadAttributes[name]) {
      attributes[webToLeadAttributes[name]] = value;
    } else if (declared.has(name)) {
      attributes[name] = value;
    } else if (
      /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(name) &&
      value.length <= 500 &&
      Object.keys(extra).length < 20
    ) {
      extra[name] = value;
    }
  }
  // Web-to-Lead forms often only ask for a mobile number
  if (input.phone === undefined && attributes.mobile) input.phone = attributes.mobile;

  for (const f of form.fields) {
    if (!f.required) continue;
    const std = standardNames[f.name];
    const present = std ? input[std] !== undefined : attributes[f.name] !== undefined;
    if (!present) errors.push({ path: f.name, message: 'is required' });
  }
  if (input.email === undefined && !errors.some((e) => e.path === 'email')) {
    errors.push({ path: 'email', message: 'is required' });
  }
  if (Object.keys(attributes).length) input.attributes = attributes;
  return { input: input as LeadInput, extra, submittedName, errors };
}

/**
 * Spam is answered like a success and changes nothing: the honeypot field filled in, or a
 * submission faster than the form's minimum fill time (`_ts`: when the form was rendered, in ms).
 * Without `_ts` (a plain HTML form in a browser without JavaScript) the time is not checked.
 */
export function isSpam(body: Record<string, unknown>, form: FormRules, nowMs: number): boolean {
  const hp = body[form.honeypot];
  if (hp !== undefined && hp !== '') return true;
  if (form.minFillSeconds > 0 && typeof body._ts === 'string' && /^\d{10,15}$/.test(body._ts)) {
    const elapsed = nowMs - Number(body._ts);
    if (elapsed < form.minFillSeconds * 1000) return true;
  }
  return false;
}

/**
 * Where a browser goes after submitting: `retURL` only when the form allows it and it is on the
 * redirectUrl's origin or an allowed origin (never an open redirect), else the form's redirectUrl.
 */
export function pickRedirect(
  form: { redirectUrl?: string | null; allowRetUrl?: boolean | null; allowedOrigins?: string[] | null },
  retURL: unknown,
): string | null {
  if (form.allowRetUrl && typeof retURL === 'string' && retURL.length <= 2000) {
    try {
      const u = new URL(retURL);
      const trusted = new Set(form.allowedOrigins ?? []);
      if (form.redirectUrl) trusted.add(new URL(form.redirectUrl).origin);
      if ((u.protocol === 'https:' || u.protocol === 'http:') && trusted.has(u.origin)) return u.href;
    } catch {
      // not a URL: fall back to the configured redirect
    }
  }
  return form.redirectUrl ?? null;
}

/** Origin check: no list means any origin; a request without Origin (curl, server-side) passes. */
export function originAllowed(
  allowedOrigins: string[] | null | undefined,
  origin: string | undefined,
): boolean {
  if (!allowedOrigins || allowedOrigins.length === 0 || origin === undefined) return true;
  return allowedOrigins.includes(origin);
}
