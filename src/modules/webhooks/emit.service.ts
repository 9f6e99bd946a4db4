import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { enqueueBulk, QueueName } from '../../queues/index.js';
import {
  attemptJobId,
  deliveryId,
  WebhookDelivery,
  WebhookEvent,
  type WebhookEventDoc,
} from './delivery.model.js';
import { Webhook } from './webhook.model.js';
import { emitInput, type EmitInput } from './webhooks.schemas.js';

const isDuplicateKey = (err: unknown) =>
  (err as { code?: number })?.code === 11000 ||
  ((err as { writeErrors?: { code?: number }[] })?.writeErrors ?? []).length > 0;

/** Inserts the event unless it exists: the `_id` insert decides which emit was first. */
async function recordEvent(
  e: ReturnType<typeof emitInput.parse>,
): Promise<{ event: WebhookEventDoc; created: boolean } | undefined> {
  const found = await WebhookEvent.findById(e.eventId).lean<WebhookEventDoc>();
  if (found) return { event: found, created: false };
  const subscribers = await Webhook.find({ active: true, events: e.type }, { _id: 1 })
    .sort({ _id: 1 })
    .lean<{ _id: string }[]>();
  // nobody listens: nothing to deliver, so nothing is written (the handoff path stays one write lighter)
  if (subscribers.length === 0) return undefined;
  const leadId =
    typeof e.data.leadId === 'string' && Types.ObjectId.isValid(e.data.leadId) ? e.data.leadId : null;
  const event = {
    _id: e.eventId,
    type: e.type,
    data: e.data,
    leadId,
    occurredAt: e.occurredAt ?? clock.now(),
    webhookIds: subscribers.map((s) => s._id),
  };
  try {
    await WebhookEvent.create(event);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return { event: (await WebhookEvent.findById(e.eventId).lean<WebhookEventDoc>())!, created: false };
  }
  return { event: event as unknown as WebhookEventDoc, created: true };
}

/**
 * Offers an event to every active webhook subscribed to its type, once per `eventId`: the first
 * call records the event and one delivery per subscriber (each `_id`-keyed) and enqueues their
 * first attempts; a repeat call (a retried job, a reconciler) adds nothing, but re-creates what a
 * crash between those steps left out. An event no active webhook subscribes to is not recorded.
 * `data` is the handoff, lead or opportunity as the API
 * shows it, with `leadId`; it is kept in MongoDB only (jobs carry delivery ids).
 *
 * `eventId`: 1-99 characters of letters, digits, `.`, `_`, `-` and `:`, stable for one
 * occurrence (e.g. `handoff.created:<requestId>`).
 */
export async function emitWebhookEvent(
  input: EmitInput,
): Promise<{ eventId: string; created: boolean; deliveries: number }> {
  const e = emitInput.parse(input);
  const recorded = await recordEvent(e);
  if (!recorded) return { eventId: e.eventId, created: false, deliveries: 0 };
  const { event, created } = recorded;
  const ids = event.webhookIds.map((w) => deliveryId(event._id, w));
  if (ids.length === 0) return { eventId: event._id, created, deliveries: 0 };

  // a just-recorded event has no deliveries yet: only a repeat emit needs to look
  const existing = created
    ? []
    : await WebhookDelivery.find({ _id: { $in: ids } }, { _id: 1, status: 1, attemptCount: 1 }).lean<
        { _id: string; status: string; attemptCount: number }[]
      >();
  const have = new Set(existing.map((d) => d._id));
  const missing = ids.filter((id) => !have.has(id));
  if (missing.length > 0) {
    const now = clock.now();
    await WebhookDelivery.insertMany(
      missing.map((id) => ({
        _id: id,
        eventId: event._id,
        webhookId: id.slice(event._id.length + 1),
        type: event.type,
        nextAttemptAt: now,
      })),
      { ordered: false },
    ).catch((err: unknown) => {
      if (!isDuplicateKey(err)) throw err;
    });
  }
  const notStarted = [
    ...missing,
    ...existing.filter((d) => d.status === 'pending' && d.attemptCount === 0).map((d) => d._id),
  ];
  // the job id names attempt 1, so a repeat emit while the job waits adds nothing
  await enqueueBulk(
    QueueName.webhook,
    notStarted.map((id) => ({ payload: { deliveryId: id }, opts: { jobId: attemptJobId(id, 1) } })),
  );
  return { eventId: event._id, created, deliveries: ids.length };
}
