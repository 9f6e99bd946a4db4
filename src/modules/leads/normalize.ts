import countries from 'i18n-iso-countries';
import en from 'i18n-iso-countries/langs/en.json' with { type: 'json' };
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

countries.registerLocale(en);

// one definition of an address's matching key, shared with the suppression list
export { emailKey } from '../suppression/index.js';

/**
 * Is this an opt-out checkbox's or column's "yes"? A checked HTML checkbox sends its value
 * (Salesforce's sends `1`), exports say `true`/`1`/`yes`; JSON may send `true`.
 */
export function isChecked(v: unknown): boolean {
  if (v === true) return true;
  return typeof v === 'string' && /^(1|on|true|yes|y|x|checked)$/i.test(v.trim());
}

/** Names and free text: trimmed, inner runs of whitespace (incl. CR/LF) collapsed; empty → null. */
export function cleanText(v: string | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  const s = v.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim();
  return s === '' ? null : s;
}

/** ISO 3166-1 alpha-2 from a code ("de", "DEU") or an English name ("Germany"); null if unknown. */
export function countryCode(v: string | null | undefined): string | null {
  const s = cleanText(v);
  if (!s) return null;
  if (/^[A-Za-z]{2}$/.test(s) && countries.isValid(s.toUpperCase())) return s.toUpperCase();
  if (/^[A-Za-z]{3}$/.test(s)) {
    const a2 = countries.alpha3ToAlpha2(s.toUpperCase());
    if (a2) return a2;
  }
  const aliases: Record<string, string> = { usa: 'US', uk: 'GB', 'united states': 'US', england: 'GB' };
  return aliases[s.toLowerCase()] ?? countries.getAlpha2Code(s, 'en') ?? null;
}

/** E.164 when the number parses (using the lead's country for national numbers), else the cleaned text. */
export function phoneE164(v: string | null | undefined, country?: string | null): string | null {
  const s = cleanText(v);
  if (!s) return null;
  const parsed = parsePhoneNumberFromString(s, (country ?? undefined) as CountryCode | undefined);
  return parsed?.isValid() ? parsed.number : s;
}
