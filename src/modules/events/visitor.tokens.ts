import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Website visitors are known by ids leadflow issues and signs (HMAC-SHA256 with the tracking
 * secret, as email tokens are), so a site's page cannot invent one, guess another visitor's, or
 * pass a lead id off as a visitor. Each kind signs under its own prefix: a visitor id is never
 * accepted as a lead token, nor either as an email token.
 */

// 128 bits of HMAC: far beyond guessing, and short enough for a cookie.
const macBytes = 16;
const randomPart = /^[A-Za-z0-9_-]{22}$/;
const objectIdPattern = /^[a-f0-9]{24}$/;
/** How long a lead-bound token appended to a tracked email click stays good. */
export const leadTokenTtlMs = 24 * 3600 * 1000;

function mac(secret: string, body: string): Buffer {
  return createHmac('sha256', secret).update(body).digest().subarray(0, macBytes);
}

// Compares the text, not decoded bytes: base64url's last character carries unused bits, so
// several spellings decode to the same MAC, and only leadflow's own spelling is accepted.
function macMatches(secret: string, body: string, given: string): boolean {
  const g = Buffer.from(given, 'utf8');
  const expected = Buffer.from(mac(secret, body).toString('base64url'), 'utf8');
  return g.length === expected.length && timingSafeEqual(g, expected);
}

/** A new signed visitor id: `<22 random base64url chars>.<22 chars of HMAC>` (45 chars, cookie-safe). */
export function newVisitorId(secret: string): string {
  const id = randomBytes(16).toString('base64url');
  return `${id}.${mac(secret, `vid:${id}`).toString('base64url')}`;
}

/** The visitor's key (the random part) when `signed` is one leadflow issued; else undefined. */
export function verifyVisitorId(secret: string, signed: unknown): string | undefined {
  if (typeof signed !== 'string' || signed.length !== 45) return undefined;
  const [id, sig, ...rest] = signed.split('.');
  if (rest.length || !id || !sig || !randomPart.test(id) || !randomPart.test(sig)) return undefined;
  return macMatches(secret, `vid:${id}`, sig) ? id : undefined;
}

/**
 * A lead-bound visitor token for a tracked email click (`?lf_t=`): whoever follows the link is,
 * for the next day, known as that lead on the site. `base64url("<leadId>:<expiresMs>").mac`.
 */
export function signLeadToken(secret: string, leadId: string, nowMs: number): string {
  const body = Buffer.from(`${leadId}:${nowMs + leadTokenTtlMs}`, 'utf8').toString('base64url');
  return `${body}.${mac(secret, `lt:${body}`).toString('base64url')}`;
}

/** The lead of a genuine, unexpired lead token; undefined for anything else. */
export function verifyLeadToken(secret: string, token: unknown, nowMs: number): string | undefined {
  if (typeof token !== 'string' || token.length > 200) return undefined;
  const [body, sig, ...rest] = token.split('.');
  if (rest.length || !body || !sig || !/^[A-Za-z0-9_-]+$/.test(body) || !randomPart.test(sig)) {
    return undefined;
  }
  if (!macMatches(secret, `lt:${body}`, sig)) return undefined;
  const m = /^([a-f0-9]{24}):(\d{1,15})$/.exec(Buffer.from(body, 'base64url').toString('utf8'));
  if (!m || !objectIdPattern.test(m[1]!) || Number(m[2]) < nowMs) return undefined;
  return m[1];
}

/**
 * Whether a click destination gets the lead token: its host is one of `domains` or under one
 * (`example.com` covers `www.example.com`); `*` means every destination; none means none.
 */
export function wantsLeadToken(url: string, domains: string[]): boolean {
  if (domains.length === 0) return false;
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return domains.some((d) => d === '*' || host === d || host.endsWith(`.${d}`));
}

/** The destination with `lf_t=<token>` added (the URL's fragment stays last). */
export function withLeadToken(url: string, token: string): string {
  const u = new URL(url);
  u.searchParams.set('lf_t', token);
  return u.href;
}
