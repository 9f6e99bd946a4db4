import { createHmac, timingSafeEqual } from 'node:crypto';

export type HandoffAction = 'accept' | 'reject';

const sign = (secret: string, body: string) =>
  createHmac('sha256', `handoff-action:${secret}`).update(body).digest('base64url');

/**
 * A link token for one owner to accept or reject one handoff from the notification:
 * base64url(`<action>|<handoffId>|<ownerId>`) + "." + HMAC. Anyone holding the email can act as
 * that owner on that handoff, nothing more.
 */
export function signActionToken(secret: string, action: HandoffAction, handoffId: string, ownerId: string) {
  const body = Buffer.from(`${action}|${handoffId}|${ownerId}`).toString('base64url');
  return `${body}.${sign(secret, body)}`;
}

/** The payload of a valid token, or undefined for anything forged, altered or malformed. */
export function verifyActionToken(
  secret: string,
  token: string,
): { action: HandoffAction; handoffId: string; ownerId: string } | undefined {
  if (token.length > 600) return undefined;
  const [body, mac, extra] = token.split('.');
  if (!body || !mac || extra !== undefined) return undefined;
  const expected = Buffer.from(sign(secret, body));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  const [action, handoffId, ownerId, more] = Buffer.from(body, 'base64url').toString('utf8').split('|');
  if ((action !== 'accept' && action !== 'reject') || !handoffId || !ownerId || more !== undefined)
    return undefined;
  return { action, handoffId, ownerId };
}
