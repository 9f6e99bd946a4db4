import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a tracking token may authorise: an open pixel, a click to one URL, an unsubscribe. */
export type TokenPayload =
  | { kind: 'open'; sendId: string }
  | { kind: 'click'; sendId: string; url: string }
  | { kind: 'unsubscribe'; sendId: string };

const kindCode = { open: 'o', click: 'c', unsubscribe: 'u' } as const;
const codeKind = { o: 'open', c: 'click', u: 'unsubscribe' } as const;
const objectIdPattern = /^[a-f0-9]{24}$/;
// 128 bits of HMAC-SHA256: far beyond guessing, and keeps links short enough for mail clients.
const macBytes = 16;
/** Longest URL a click token may carry (mail clients and proxies choke beyond a few KB). */
export const maxTrackedUrlLength = 2048;

function mac(secret: string, body: string): Buffer {
  return createHmac('sha256', secret).update(body).digest().subarray(0, macBytes);
}

/** True for absolute http(s) URLs: the only kind a click may redirect to. */
export function isTrackableUrl(url: string): boolean {
  if (url.length > maxTrackedUrlLength) return false;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Seals a payload: base64url(`<kind>:<sendId>[:<url>]`) + "." + base64url(HMAC). The URL of a click
 * lives inside the signed body, so no one can point a click token anywhere else.
 */
export function signToken(secret: string, payload: TokenPayload): string {
  const parts: string[] = [kindCode[payload.kind], payload.sendId];
  if (payload.kind === 'click') parts.push(payload.url);
  const body = Buffer.from(parts.join(':'), 'utf8').toString('base64url');
  return `${body}.${mac(secret, body).toString('base64url')}`;
}

/** The payload of a genuine token; undefined for anything forged, altered or malformed. */
export function verifyToken(secret: string, token: string): TokenPayload | undefined {
  if (typeof token !== 'string' || token.length > 4096) return undefined;
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return undefined;
  const body = token.slice(0, dot);
  // compares the MAC's text, not its decoded bytes: a decoder skips `=` and other stray characters
  // and base64url's last character carries unused bits, so several spellings decode alike; only
  // leadflow's own spelling is genuine (an altered link is a forged one)
  const given = Buffer.from(token.slice(dot + 1), 'utf8');
  const expected = Buffer.from(mac(secret, body).toString('base64url'), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const text = Buffer.from(body, 'base64url').toString('utf8');
  const first = text.indexOf(':');
  const code = text.slice(0, first);
  const rest = text.slice(first + 1);
  const kind = codeKind[code as keyof typeof codeKind];
  if (first < 0 || !kind) return undefined;
  if (kind === 'click') {
    const sep = rest.indexOf(':');
    const sendId = rest.slice(0, sep);
    const url = rest.slice(sep + 1);
    if (sep < 0 || !objectIdPattern.test(sendId) || !isTrackableUrl(url)) return undefined;
    return { kind, sendId, url };
  }
  if (!objectIdPattern.test(rest)) return undefined;
  return { kind, sendId: rest };
}
