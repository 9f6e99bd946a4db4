import { createHash } from 'node:crypto';
import { isDuplicateKey } from '../../lib/mongo.js';
import { Suppression, type SuppressionReason } from './suppression.model.js';

/** The matching key of an email: trimmed and case-folded (the display form is kept apart). */
export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

/** What the suppression list stores instead of the address: a sha256 of its emailKey. */
export function emailHash(email: string): string {
  return createHash('sha256').update(emailKey(email)).digest('hex');
}

/** True when the address may get no marketing email (unsubscribed, bounced, complained, erased). */
export async function isSuppressed(email: string): Promise<boolean> {
  return (await Suppression.exists({ emailHash: emailHash(email) })) !== null;
}

/**
 * Adds the address to the suppression list (keyed by its hash; the first reason is kept, so an
 * erasure never weakens an earlier unsubscribe). Returns whether it was new.
 */
export async function suppressEmail(email: string, reason: SuppressionReason): Promise<{ created: boolean }> {
  try {
    await Suppression.create({ emailHash: emailHash(email), reason });
    return { created: true };
  } catch (err) {
    if (isDuplicateKey(err)) return { created: false };
    throw err;
  }
}
