import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { registerLeadOwnedCollection } from '../leads/index.js';

/**
 * One event offered to webhooks. `_id` is the emitter's eventId: the insert is what makes
 * emitWebhookEvent idempotent. `webhookIds` freezes who subscribed at the first emit, so a repeat
 * emit (after a crash) creates the same deliveries and no others. Holds the lead's data (the
 * payload), so it is lead-owned: erasure deletes it, merge moves it.
 */
const webhookEventSchema = new Schema(
  {
    _id: { type: String, required: true },
    type: { type: String, required: true },
    data: { type: Schema.Types.Mixed, required: true },
    leadId: { type: Schema.Types.ObjectId, default: null },
    occurredAt: { type: Date, required: true },
    webhookIds: { type: [String], default: [] },
  },
  { timestamps: true, strict: true, minimize: false },
);

// lead erasure and merge find a lead's events
webhookEventSchema.index({ leadId: 1 });

export const WebhookEvent = mongoose.model('WebhookEvent', webhookEventSchema, 'webhookevents');
registerLeadOwnedCollection('webhookevents');

export const deliveryStatuses = ['pending', 'succeeded', 'failed', 'cancelled'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

/**
 * One event for one webhook. `_id` is `<eventId>:<webhookId>`, so an event reaches a webhook at
 * most once however often it is emitted. Written only by the worker holding its current job (and
 * by a redelivery request, which only starts from a finished delivery).
 */
const webhookDeliverySchema = new Schema(
  {
    _id: { type: String, required: true },
    eventId: { type: String, required: true },
    webhookId: { type: String, required: true },
    type: { type: String, required: true },
    status: { type: String, enum: deliveryStatuses, default: 'pending' },
    /** attempts made so far; attempt n is the WebhookAttempt `<_id>:<n>` */
    attemptCount: { type: Number, default: 0 },
    /** the attempt after which a failure is final; null: the retry schedule's length + 1 (a redelivery sets it) */
    attemptLimit: { type: Number, default: null },
    /** when the next attempt is due (pending only): the reconciler re-enqueues a lost job from it */
    nextAttemptAt: { type: Date, default: null },
    deliveredAt: { type: Date, default: null },
    lastResponseCode: { type: Number, default: null },
    lastError: { type: String, default: null },
    /** the first attempt number asked for through the redelivery endpoint (null: none) */
    redeliveryFrom: { type: Number, default: null },
  },
  { timestamps: true, strict: true },
);

// GET /api/webhooks/:id/deliveries: a webhook's deliveries, newest first
webhookDeliverySchema.index({ webhookId: 1, createdAt: -1, _id: -1 });
// the reconciler: pending deliveries whose next attempt is due
webhookDeliverySchema.index({ status: 1, nextAttemptAt: 1 });

export type WebhookDeliveryDoc = InferSchemaType<typeof webhookDeliverySchema> & { _id: string };
export const WebhookDelivery = mongoose.model('WebhookDelivery', webhookDeliverySchema, 'webhookdeliveries');

export const attemptStatuses = ['sending', 'succeeded', 'failed', 'interrupted'] as const;

/**
 * One HTTP attempt. `_id` is `<deliveryId>:<n>`: inserting it is the right to make attempt n, so
 * two workers holding the same job never both POST it. An attempt left in `sending` by a stopped
 * worker is closed as `interrupted` (its outcome is unknown) and the next attempt follows.
 */
const webhookAttemptSchema = new Schema(
  {
    _id: { type: String, required: true },
    deliveryId: { type: String, required: true },
    number: { type: Number, required: true },
    /** `schedule`: the first attempt and the retries; `redelivery`: asked for through the API */
    trigger: { type: String, enum: ['schedule', 'redelivery'], default: 'schedule' },
    status: { type: String, enum: attemptStatuses, default: 'sending' },
    startedAt: { type: Date, required: true },
    finishedAt: { type: Date, default: null },
    responseCode: { type: Number, default: null },
    durationMs: { type: Number, default: null },
    error: { type: String, default: null },
    /** the first bytes of the receiver's answer, for whoever debugs the receiver */
    responseExcerpt: { type: String, default: null },
  },
  { strict: true, versionKey: false },
);

// attempts are read by _id (`<deliveryId>:1..n`): no other index

export type WebhookAttemptDoc = InferSchemaType<typeof webhookAttemptSchema> & { _id: string };
export const WebhookAttempt = mongoose.model('WebhookAttempt', webhookAttemptSchema, 'webhookattempts');

/** The `_id` of attempt `n` of a delivery. */
export const attemptId = (deliveryId: string, n: number) => `${deliveryId}:${n}`;

/** The `_id` of an event's delivery to one webhook. */
export const deliveryId = (eventId: string, webhookId: string) => `${eventId}:${webhookId}`;

/**
 * The BullMQ job id of attempt `n` (BullMQ refuses `:` in custom ids; ids here never contain `|`,
 * so the mapping is one-to-one). Deterministic, so a re-enqueue of the same attempt is a no-op.
 */
export const attemptJobId = (deliveryIdText: string, n: number) =>
  `${deliveryIdText.replaceAll(':', '|')}|${n}`;

export type WebhookEventDoc = InferSchemaType<typeof webhookEventSchema> & { _id: string };
