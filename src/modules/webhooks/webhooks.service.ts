import { clock } from '../../lib/clock.js';
import { badRequest, conflict, notFound } from '../../lib/errors.js';
import { enqueue, QueueName } from '../../queues/index.js';
import { RefusedTargetError, vetTarget } from './address-policy.js';
import {
  attemptId,
  attemptJobId,
  WebhookAttempt,
  WebhookDelivery,
  type WebhookAttemptDoc,
  type WebhookDeliveryDoc,
} from './delivery.model.js';
import { Webhook, type WebhookDoc } from './webhook.model.js';
import type { PutWebhookBody } from './webhooks.schemas.js';
import { generateSecret } from './signature.js';
import { toDeliveryJson, toWebhookJson } from './webhooks.view.js';

/**
 * Creates or replaces a webhook. A webhook created without a secret gets one, answered this once;
 * a replacement without a secret keeps the one it had. Unless private targets are allowed, the
 * URL's host must be (or resolve to) public addresses only.
 */
export async function putWebhook(id: string, body: PutWebhookBody, opts: { allowPrivate: boolean }) {
  if (!opts.allowPrivate) {
    try {
      await vetTarget(new URL(body.url));
    } catch (err) {
      if (!(err instanceof RefusedTargetError)) throw err;
      throw badRequest(
        `the webhook URL is not allowed: ${err.message} (set WEBHOOK_ALLOW_PRIVATE=true to allow it)`,
        [{ path: 'url', message: err.message }],
      );
    }
  }
  const existing = await Webhook.findById(id).lean<WebhookDoc>();
  const active = body.active ?? existing?.active ?? true;
  if (!existing) {
    // created by insert, so of two concurrent first PUTs only one generates (and shows) a secret
    const secret = body.secret ?? generateSecret();
    try {
      await Webhook.create({ _id: id, url: body.url, events: body.events, secret, active });
      const created = (await Webhook.findById(id).lean<WebhookDoc>())!;
      return { ...toWebhookJson(created), ...(body.secret ? {} : { secret }) };
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
  }
  // a replacement keeps the secret unless one is given
  await Webhook.updateOne(
    { _id: id },
    { $set: { url: body.url, events: body.events, active, ...(body.secret ? { secret: body.secret } : {}) } },
  );
  const saved = await Webhook.findById(id).lean<WebhookDoc>();
  if (!saved) throw notFound('webhook');
  return toWebhookJson(saved);
}

export async function getWebhook(id: string) {
  const w = await Webhook.findById(id).lean<WebhookDoc>();
  if (!w) throw notFound('webhook');
  return toWebhookJson(w);
}

/** Webhooks by id. */
export async function listWebhooks(q: { limit: number; cursor?: string }) {
  const filter = q.cursor ? { _id: { $gt: Buffer.from(q.cursor, 'base64url').toString('utf8') } } : {};
  const found = await Webhook.find(filter)
    .sort({ _id: 1 })
    .limit(q.limit + 1)
    .lean<WebhookDoc[]>();
  const page = found.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toWebhookJson),
    nextCursor: found.length > q.limit && last ? Buffer.from(last._id).toString('base64url') : null,
  };
}

/** Deletes a webhook; its pending deliveries are cancelled when their next attempt comes up. */
export async function deleteWebhook(id: string): Promise<void> {
  const r = await Webhook.deleteOne({ _id: id });
  if (r.deletedCount === 0) throw notFound('webhook');
}

async function attemptsOf(d: WebhookDeliveryDoc): Promise<WebhookAttemptDoc[]> {
  if (d.attemptCount === 0) return [];
  const ids = Array.from({ length: d.attemptCount }, (_v, i) => attemptId(d._id, i + 1));
  return WebhookAttempt.find({ _id: { $in: ids } })
    .sort({ number: 1 })
    .lean<WebhookAttemptDoc[]>();
}

function decodeDeliveryCursor(text: string): { at: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as [string, string];
    const date = new Date(at);
    if (typeof id !== 'string' || Number.isNaN(date.getTime())) throw new Error('bad cursor');
    return { at: date, id };
  } catch {
    throw badRequest('cursor is not valid', [
      { path: 'cursor', message: 'must be a cursor from nextCursor' },
    ]);
  }
}

/** A webhook's deliveries, newest first, each with every attempt made. */
export async function listDeliveries(
  webhookId: string,
  q: { limit: number; cursor?: string; status?: string },
) {
  if (!(await Webhook.exists({ _id: webhookId }))) throw notFound('webhook');
  const filter: Record<string, unknown> = { webhookId };
  if (q.status) filter.status = q.status;
  if (q.cursor) {
    const c = decodeDeliveryCursor(q.cursor);
    filter.$or = [{ createdAt: { $lt: c.at } }, { createdAt: c.at, _id: { $lt: c.id } }];
  }
  const found = await WebhookDelivery.find(filter)
    .sort({ createdAt: -1, _id: -1 })
    .limit(q.limit + 1)
    .lean<(WebhookDeliveryDoc & { createdAt: Date })[]>();
  const page = found.slice(0, q.limit);
  const items = await Promise.all(page.map(async (d) => toDeliveryJson(d, await attemptsOf(d))));
  const last = page[page.length - 1];
  const nextCursor =
    found.length > q.limit && last
      ? Buffer.from(JSON.stringify([last.createdAt.toISOString(), last._id])).toString('base64url')
      : null;
  return { items, nextCursor };
}

export async function getDelivery(webhookId: string, id: string) {
  const d = await WebhookDelivery.findById(id).lean<WebhookDeliveryDoc>();
  if (!d || d.webhookId !== webhookId) throw notFound('delivery');
  return toDeliveryJson(d, await attemptsOf(d));
}

/**
 * Sends a finished delivery (succeeded, failed or cancelled) once more, now: the same event and
 * `webhook-id`, a fresh timestamp and signature, recorded as one more attempt. A delivery still
 * being retried is a conflict (its next attempt is already scheduled).
 */
export async function redeliver(webhookId: string, id: string) {
  const d = await WebhookDelivery.findById(id).lean<WebhookDeliveryDoc>();
  if (!d || d.webhookId !== webhookId) throw notFound('delivery');
  if (d.status === 'pending') throw conflict('the delivery is still being attempted; wait for it to finish');
  const w = await Webhook.findById(webhookId).lean<WebhookDoc>();
  if (!w) throw notFound('webhook');
  if (!w.active) throw conflict('the webhook is inactive; activate it first');
  const next = d.attemptCount + 1;
  await WebhookDelivery.updateOne(
    { _id: id },
    {
      $set: {
        status: 'pending',
        attemptLimit: next,
        nextAttemptAt: clock.now(),
        redeliveryFrom: next,
      },
    },
  );
  await enqueue(QueueName.webhook, { deliveryId: id }, { jobId: attemptJobId(id, next) });
  return getDelivery(webhookId, id);
}
