import { clock } from '../../lib/clock.js';
import { recordEvent } from '../events/index.js';
import { Lead } from '../leads/index.js';
import { suppressEmail } from '../suppression/index.js';
import { afterSuppression, eventProperties } from './email.service.js';
import { EmailSend, type SendDoc } from './send.model.js';

/** Loads a send for tracking; undefined when it no longer exists (erased lead). */
async function trackedSend(sendId: string) {
  return EmailSend.findById(sendId, { leadId: 1, sequenceKey: 1, stepId: 1, variant: 1, openedAt: 1 }).lean<
    Pick<SendDoc, '_id' | 'leadId' | 'sequenceKey' | 'stepId' | 'variant' | 'openedAt'>
  >();
}

/**
 * Records a tracking event; the first of its kind for a send gets a deterministic key, so the
 * unique index (not a conditional update, which FerretDB does not make atomic) tells whether this
 * is the first. Returns whether it was.
 */
async function recordTracking(
  send: Pick<SendDoc, '_id' | 'leadId' | 'sequenceKey' | 'stepId' | 'variant'>,
  type: 'email_open' | 'email_click',
  at: Date,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const event = {
    leadId: send.leadId,
    type,
    occurredAt: at,
    properties: { ...eventProperties(send), ...extra },
  };
  const first = await recordEvent({ ...event, key: `${type}:${String(send._id)}:first` });
  if (first) return true;
  await recordEvent(event);
  return false;
}

/** The open pixel fired: the event is recorded every time, `openedAt` once (the first open). */
export async function recordOpen(sendId: string): Promise<boolean> {
  const send = await trackedSend(sendId);
  if (!send) return false;
  const now = clock.now();
  if (await recordTracking(send, 'email_open', now)) {
    await EmailSend.updateOne({ _id: send._id }, { $set: { openedAt: now } });
  }
  return true;
}

/**
 * A tracked link was followed: `clickedAt` once; a click proves an open too (images are often
 * blocked). Returns the send's lead (undefined when the send is gone).
 */
export async function recordClick(sendId: string, url: string): Promise<string | undefined> {
  const send = await trackedSend(sendId);
  if (!send) return undefined;
  const now = clock.now();
  if (await recordTracking(send, 'email_click', now, { url })) {
    await EmailSend.updateOne({ _id: send._id }, { $set: { clickedAt: now } });
  }
  // read-then-write by `_id`: a filter on `_id` alone stays an index lookup on every server
  if (!send.openedAt) await EmailSend.updateOne({ _id: send._id }, { $set: { openedAt: now } });
  return String(send.leadId);
}

/**
 * Unsubscribes the recipient of a send: suppression, `lead.unsubscribed`, an `unsubscribe` event
 * (once per send) and afterSuppression. Repeating it changes nothing more.
 */
export async function unsubscribeBySend(sendId: string): Promise<{ found: boolean }> {
  const send = await trackedSend(sendId);
  if (!send) return { found: false };
  const lead = await Lead.findById(send.leadId, { email: 1 }).lean();
  if (!lead) return { found: false };
  await suppressEmail(lead.email, 'unsubscribe');
  await Lead.updateOne({ _id: lead._id }, { $set: { unsubscribed: true } });
  await recordEvent({
    leadId: lead._id,
    type: 'unsubscribe',
    properties: eventProperties(send),
    key: `unsubscribe:${sendId}`,
  });
  await afterSuppression(lead._id, 'unsubscribe');
  return { found: true };
}
