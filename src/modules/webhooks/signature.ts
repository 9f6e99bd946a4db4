import { createHmac, randomBytes } from 'node:crypto';

/** `whsec_` and the base64 of 24 to 64 random bytes, as the Standard Webhooks specification writes secrets. */
export const secretPattern = /^whsec_([A-Za-z0-9+/]{32,88}={0,2})$/;

/** A new signing secret: 24 random bytes (the specification's lower bound is 24, its upper 64). */
export function generateSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** The key bytes of a `whsec_` secret, or undefined when it is not one (or decodes outside 24-64 bytes). */
export function secretKey(secret: string): Buffer | undefined {
  const m = secretPattern.exec(secret);
  if (!m) return undefined;
  const key = Buffer.from(m[1]!, 'base64');
  // Buffer.from ignores bad base64 quietly: round-trip to be sure the text was canonical base64
  if (key.length < 24 || key.length > 64 || key.toString('base64') !== m[1]) return undefined;
  return key;
}

/**
 * The `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
 * Signed here with node:crypto; the tests verify with the specification's own library, so the two
 * implementations check each other.
 */
export function signPayload(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = secretKey(secret);
  if (!key) throw new Error('the webhook secret is not a whsec_ secret');
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}
