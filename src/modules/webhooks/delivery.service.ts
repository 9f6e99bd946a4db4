import type { Config } from '../../config.js';
import { clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { enqueue, enqueueBulk, getQueue, QueueName } from '../../queues/index.js';
import {
  attemptId,
  attemptJobId,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEvent,
  type WebhookAttemptDoc,
  type WebhookDeliveryDoc,
  type WebhookEventDoc,
} from './delivery.model.js';
import { signPayload } from './signature.js';
import { Webhook, type WebhookDoc } from './webhook.model.js';
import { postWebhook, type PostOutcome } from './webhook-post.js';

type Deps = { config: Pick<Config, 'webhooks'> };
type Outcome = Pick<PostOutcome, 'ok' | 'responseCode' | 'error'>;

/** An attempt found in `sending` for longer than this was cut off by a stopped worker. */
const interruptedAfterMs = (timeoutMs: number) => timeoutMs + 60_000;

const userAgent = 'leadflow-webhooks/1 (+Standard Webhooks)';

/**
 * After attempt `n`: delivered, or the next attempt scheduled as a delayed job (the delivery is
 * written first, so a job lost with Redis is found again by the reconciler), or failed for good
 * after the last attempt the schedule allows.
 */
async function applyOutcome(deps: Deps, d: WebhookDeliveryDoc, n: number, o: Outcome): Promise<string> {
  const schedule = deps.config.webhooks.retryScheduleMs;
  const limit = d.attemptLimit ?? schedule.length + 1;
  const now = clock.now();
  const common = { attemptCount: n, lastResponseCode: o.responseCode, lastError: o.error };
  if (o.ok) {
    await WebhookDelivery.updateOne(
      { _id: d._id },
      { $set: { ...common, status: 'succeeded', deliveredAt: now, nextAttemptAt: null } },
    );
    return 'succeeded';
  }
  if (n >= limit) {
    await WebhookDelivery.updateOne(
      { _id: d._id },
      { $set: { ...common, status: 'failed', nextAttemptAt: null } },
    );
    return 'failed';
  }
  const delay = schedule[Math.min(n - 1, schedule.length - 1)] ?? 0;
  await WebhookDelivery.updateOne(
    { _id: d._id },
    { $set: { ...common, nextAttemptAt: new Date(now.getTime() + delay) } },
  );
  await enqueue(QueueName.webhook, { deliveryId: d._id }, { jobId: attemptJobId(d._id, n + 1), delay });
  return 'retrying';
}

/**
 * Claims attempt `n` by inserting its `_id`. Answers the attempt already there when another run
 * got it first: a finished one (its delivery not yet updated) or one left in `sending`.
 */
async function claimAttempt(d: WebhookDeliveryDoc, n: number): Promise<WebhookAttemptDoc | undefined> {
  try {
    await WebhookAttempt.create({
      _id: attemptId(d._id, n),
      deliveryId: d._id,
      number: n,
      trigger:
        d.redeliveryFrom !== null && d.redeliveryFrom !== undefined && n >= d.redeliveryFrom
          ? 'redelivery'
          : 'schedule',
      startedAt: clock.now(),
    });
    return undefined;
  } catch (err) {
    if ((err as { code?: number }).code !== 11000) throw err;
    return (await WebhookAttempt.findById(attemptId(d._id, n)).lean<WebhookAttemptDoc>())!;
  }
}

/** Settles an attempt another run made (or was cut off in) and moves the delivery on from it. */
async function settleExisting(deps: Deps, d: WebhookDeliveryDoc, a: WebhookAttemptDoc): Promise<string> {
  if (a.status === 'sending') {
    const age = clock.now().getTime() - new Date(a.startedAt).getTime();
    if (age < interruptedAfterMs(deps.config.webhooks.timeoutMs)) {
      // another worker may still be waiting for the receiver: try again later (BullMQ backoff)
      throw new Error(`attempt ${a.number} of ${d._id} is in progress elsewhere`);
    }
    const error = 'outcome unknown: the worker stopped during the attempt';
    await WebhookAttempt.updateOne(
      { _id: a._id },
      { $set: { status: 'interrupted', error, finishedAt: clock.now() } },
    );
    return applyOutcome(deps, d, a.number, { ok: false, responseCode: null, error });
  }
  return applyOutcome(deps, d, a.number, {
    ok: a.status === 'succeeded',
    responseCode: a.responseCode ?? null,
    error: a.error ?? null,
  });
}

/** The request body and Standard Webhooks headers of one attempt. */
export function signedRequest(event: WebhookEventDoc, secret: string, at: Date) {
  const body = JSON.stringify({
    type: event.type,
    timestamp: new Date(event.occurredAt).toISOString(),
    data: event.data,
  });
  const timestamp = Math.floor(at.getTime() / 1000);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': userAgent,
      'webhook-id': event._id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signPayload(secret, event._id, timestamp, body),
    },
  };
}

/**
 * Makes the next attempt of a delivery (the `webhook` job): POSTs the signed event, records the
 * attempt, and schedules the next one on failure. A delivery already finished, or whose webhook
 * was deleted or deactivated (cancelled), does nothing.
 */
export async function deliverWebhook(deps: Deps, id: string, log: Logger): Promise<{ result: string }> {
  const d = await WebhookDelivery.findById(id).lean<WebhookDeliveryDoc>();
  if (!d) return { result: 'no such delivery' };
  if (d.status !== 'pending') return { result: `already ${d.status}` };
  const [webhook, event] = await Promise.all([
    Webhook.findById(d.webhookId).lean<WebhookDoc>(),
    WebhookEvent.findById(d.eventId).lean<WebhookEventDoc>(),
  ]);
  const cancel = !webhook
    ? 'the webhook was deleted'
    : !webhook.active
      ? 'the webhook is inactive'
      : !event
        ? 'the event was erased'
        : null;
  if (cancel || !webhook || !event) {
    await WebhookDelivery.updateOne(
      { _id: id },
      { $set: { status: 'cancelled', lastError: cancel, nextAttemptAt: null } },
    );
    return { result: 'cancelled' };
  }
  const n = d.attemptCount + 1;
  const earlier = await claimAttempt(d, n);
  if (earlier) return { result: await settleExisting(deps, d, earlier) };

  const { body, headers } = signedRequest(event, webhook.secret, clock.now());
  const o = await postWebhook(webhook.url, body, headers, {
    timeoutMs: deps.config.webhooks.timeoutMs,
    allowPrivate: deps.config.webhooks.allowPrivate,
  });
  await WebhookAttempt.updateOne(
    { _id: attemptId(id, n) },
    {
      $set: {
        status: o.ok ? 'succeeded' : 'failed',
        finishedAt: clock.now(),
        responseCode: o.responseCode,
        durationMs: o.durationMs,
        error: o.error,
        responseExcerpt: o.responseExcerpt,
      },
    },
  );
  const result = await applyOutcome(deps, d, n, o);
  log.debug({ deliveryId: id, attempt: n, code: o.responseCode, result }, 'webhook attempt');
  return { result };
}

const liveStates = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

/**
 * Re-enqueues pending deliveries whose next attempt is overdue and has no live job (lost with
 * Redis, or given up by BullMQ): MongoDB says what is due, Redis only holds work to do.
 */
export async function reconcileWebhookDeliveries(
  rt: { logger: Logger },
  opts: { graceMs?: number; batch?: number } = {},
): Promise<{ requeued: number }> {
  const before = new Date(clock.now().getTime() - (opts.graceMs ?? 60_000));
  const due = await WebhookDelivery.find(
    { status: 'pending', nextAttemptAt: { $lte: before } },
    { _id: 1, attemptCount: 1 },
  )
    .sort({ nextAttemptAt: 1 })
    .limit(opts.batch ?? 1000)
    .lean<{ _id: string; attemptCount: number }[]>();
  const queue = getQueue(QueueName.webhook);
  const jobs: { payload: { deliveryId: string }; opts: { jobId: string } }[] = [];
  for (const d of due) {
    const jobId = attemptJobId(d._id, d.attemptCount + 1);
    const job = await queue.getJob(jobId);
    if (job && liveStates.has(await job.getState())) continue;
    // a finished job keeps its id in Redis and would swallow the new one
    if (job) await job.remove().catch(() => undefined);
    jobs.push({ payload: { deliveryId: d._id }, opts: { jobId } });
  }
  await enqueueBulk(QueueName.webhook, jobs);
  if (jobs.length) rt.logger.info({ requeued: jobs.length }, 'webhook deliveries reconciled');
  return { requeued: jobs.length };
}

/**
 * Deletes finished deliveries (and their attempts) last changed more than `olderThanMs` ago, and
 * events from before then that no pending delivery still needs (the maintenance `cleanup` task;
 * FerretDB v1 has no TTL indexes). A purged delivery can no longer be redelivered.
 */
export async function purgeWebhookHistory(
  now: Date,
  opts: { olderThanMs?: number; batch?: number } = {},
): Promise<{ deliveries: number; events: number }> {
  const before = new Date(now.getTime() - (opts.olderThanMs ?? 30 * 86_400_000));
  const batch = opts.batch ?? 5000;
  const old = await WebhookDelivery.find(
    { status: { $in: ['succeeded', 'failed', 'cancelled'] }, updatedAt: { $lt: before } },
    { _id: 1 },
  )
    .limit(batch)
    .lean<{ _id: string }[]>();
  const ids = old.map((d) => d._id);
  if (ids.length) {
    await WebhookAttempt.deleteMany({ deliveryId: { $in: ids } });
    await WebhookDelivery.deleteMany({ _id: { $in: ids } });
  }
  const events = await WebhookEvent.find({ createdAt: { $lt: before } }, { _id: 1 })
    .limit(batch)
    .lean<{ _id: string }[]>();
  const eventIds = events.map((e) => e._id);
  const stillNeeded = new Set(
    (await WebhookDelivery.distinct('eventId', {
      eventId: { $in: eventIds },
      status: 'pending',
    })) as string[],
  );
  const gone = eventIds.filter((id) => !stillNeeded.has(id));
  if (gone.length) await WebhookEvent.deleteMany({ _id: { $in: gone } });
  return { deliveries: ids.length, events: gone.length };
}
