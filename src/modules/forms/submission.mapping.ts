import { isChecked, type LeadInput } from '../leads/index.js';
import type { ErrorDetail } from '../../lib/errors.js';
import { trackingFieldNames } from '../events/index.js';

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

/** Web-to-Lead fields kept as attributes under our name for them; other names are kept as they are. */
const webToLeadAttributes: Record<string, string> = { URL: 'website' };

/**
 * Salesforce Web-to-Lead's plumbing and our own control fields: accepted, never stored. `oid` /
 * `orgid` name the Salesforce org, `retURL` is the redirect (honoured by pickRedirect), `debug` and
 * `debugEmail` Salesforce's test switches, `recordType` a Salesforce record type id,
 * `captcha_settings` and `g-recaptcha-response` reCAPTCHA's, `encoding` the charset, `_ts` our fill
 * timer, website tracking's fields, and the submit button when it has a name.
 */
const plumbing = new Set([
  'oid',
  'orgid',
  'orgId',
  'retURL',
  'debug',
  'debugEmail',
  'recordType',
  'captcha_settings',
  'g-recaptcha-response',
  'encoding',
  '_ts',
  // website tracking's visitor and campaign fields (read by forms.service for attribution)
  ...trackingFieldNames,
]);
const submitButton = /^(submit|btn_?submit|submit_?button|send)$/i;

/** The "Email Opt Out" checkbox by every name it goes by (Web-to-Lead, snake case, Salesforce's API). */
const optOutNames = new Set(['emailOptOut', 'email_opt_out', 'HasOptedOutOfEmail']);

/** What one submission may keep under `attributes`. */
export const submissionLimits = { attributes: 100, valueChars: 2000 } as const;
const keepableName = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
const prototypeNames = new Set(['__proto__', 'constructor', 'prototype']);
const own = <T>(o: Record<string, T>, k: string): T | undefined => (Object.hasOwn(o, k) ? o[k] : undefined);

export type MappedSubmission = {
  input: LeadInput;
  /** the submitted name of each lead field and attribute (`attributes.<key>`), to name fields in errors as the form did */
  submittedName: Record<string, string>;
  errors: ErrorDetail[];
};

const fieldValue = (v: unknown): string | undefined | null =>
  v === undefined ? undefined : typeof v === 'string' ? v : null;

/** A custom field's value: text, or the options of a multi-select picklist (kept `;`-joined, as Salesforce does). */
const attributeValue = (v: unknown): string | undefined | null => {
  if (Array.isArray(v))
    return v.every((x) => typeof x === 'string') ? v.filter((x) => x !== '').join(';') : null;
  return fieldValue(v);
};

type Mapping = {
  input: Record<string, unknown>;
  attributes: Record<string, string>;
  submittedName: Record<string, string>;
  errors: ErrorDetail[];
};

/** Keeps one custom (`00N…`) or undeclared field under `attributes`, within the limits, or names why not. */
function keepAttribute(m: Mapping, name: string, raw: unknown): void {
  const value = attributeValue(raw);
  if (value === null)
    return void m.errors.push({ path: name, message: 'must be text (or a list of options)' });
  if (value === undefined || value.trim() === '') return;
  const key = own(webToLeadAttributes, name) ?? name;
  if (!keepableName.test(key) || prototypeNames.has(key)) {
    return void m.errors.push({
      path: name,
      message: 'is not a field name leadflow can keep (1-64 letters, digits, _ or -)',
    });
  }
  if (value.length > submissionLimits.valueChars) {
    return void m.errors.push({
      path: name,
      message: `must be at most ${submissionLimits.valueChars} characters`,
    });
  }
  if (m.attributes[key] === undefined && Object.keys(m.attributes).length >= submissionLimits.attributes) {
    return void m.errors.push({
      path: name,
      message: `is one field too many: a submission keeps at most ${submissionLimits.attributes} custom fields`,
    });
  }
  m.attributes[key] = value;
  m.submittedName[`attributes.${key}`] = name;
}

/** Maps one standard field (ours or Web-to-Lead's name); the first name given for a field wins. */
function keepStandard(m: Mapping, name: string, raw: unknown): void {
  const std = own(standardNames, name)!;
  const value = fieldValue(raw);
  if (value === null) return void m.errors.push({ path: name, message: 'must be a single text value' });
  if (value === undefined || value.trim() === '' || m.input[std] !== undefined) return;
  m.input[std] = value;
  m.submittedName[std] = name;
}

/**
 * Maps a submission (urlencoded or JSON) to a lead input, keeping every field of a Web-to-Lead
 * form: standard and Web-to-Lead names to lead fields; the Email Opt Out checkbox to `emailOptOut`;
 * custom (`00N…`), declared and any other fields to `attributes` (bounded: a clear error naming the
 * field beyond); Salesforce's plumbing is accepted and dropped. A value that is not text (an
 * object such as `{"$gt": ""}`, a repeated standard field) is an error naming the field.
 */
export function mapSubmission(body: Record<string, unknown>, form: FormRules): MappedSubmission {
  const m: Mapping = { input: {}, attributes: {}, submittedName: {}, errors: [] };
  for (const [name, raw] of Object.entries(body)) {
    if (plumbing.has(name) || submitButton.test(name) || name === form.honeypot) continue;
    if (optOutNames.has(name)) {
      if (Array.isArray(raw) ? raw.some(isChecked) : isChecked(raw)) m.input.emailOptOut = true;
    } else if (own(standardNames, name)) keepStandard(m, name, raw);
    else keepAttribute(m, name, raw);
  }
  // Web-to-Lead forms often only ask for a mobile number
  if (m.input.phone === undefined && m.attributes.mobile) m.input.phone = m.attributes.mobile;

  for (const f of form.fields) {
    if (!f.required) continue;
    const std = own(standardNames, f.name);
    const present = std ? m.input[std] !== undefined : m.attributes[f.name] !== undefined;
    if (!present && !m.errors.some((e) => e.path === f.name))
      m.errors.push({ path: f.name, message: 'is required' });
  }
  if (m.input.email === undefined && !m.errors.some((e) => e.path === 'email')) {
    m.errors.push({ path: 'email', message: 'is required' });
  }
  if (Object.keys(m.attributes).length) m.input.attributes = m.attributes;
  return { input: m.input as LeadInput, submittedName: m.submittedName, errors: m.errors };
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
