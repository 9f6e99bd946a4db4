import type { WebhookAttemptDoc, WebhookDeliveryDoc } from './delivery.model.js';
import type { WebhookDoc } from './webhook.model.js';

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

/** A webhook as the API shows it: never its secret. */
export function toWebhookJson(w: WebhookDoc) {
  return {
    id: w._id,
    url: w.url,
    events: w.events,
    active: w.active,
    createdAt: iso(w.createdAt),
    updatedAt: iso(w.updatedAt),
  };
}

export function toAttemptJson(a: WebhookAttemptDoc) {
  return {
    number: a.number,
    trigger: a.trigger,
    status: a.status,
    at: iso(a.startedAt),
    finishedAt: iso(a.finishedAt),
    responseCode: a.responseCode ?? null,
    durationMs: a.durationMs ?? null,
    error: a.error ?? null,
    responseExcerpt: a.responseExcerpt ?? null,
  };
}

export function toDeliveryJson(d: WebhookDeliveryDoc, attempts: WebhookAttemptDoc[]) {
  return {
    id: d._id,
    webhookId: d.webhookId,
    eventId: d.eventId,
    type: d.type,
    status: d.status,
    attemptCount: d.attemptCount,
    nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
    deliveredAt: iso(d.deliveredAt),
    lastResponseCode: d.lastResponseCode ?? null,
    lastError: d.lastError ?? null,
    createdAt: iso((d as { createdAt?: Date }).createdAt),
    attempts: attempts.map(toAttemptJson),
  };
}
