import mongoose, { Schema, type InferSchemaType } from 'mongoose';

export const webhookEventTypes = [
  'lead.qualified',
  'handoff.created',
  'handoff.accepted',
  'handoff.rejected',
  'opportunity.stage_changed',
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

/** A receiver: where to POST which events, and the secret they are signed with. */
const webhookSchema = new Schema(
  {
    /** chosen by the caller of PUT /api/webhooks/:id */
    _id: { type: String, required: true },
    url: { type: String, required: true },
    events: { type: [String], enum: webhookEventTypes, required: true },
    /**
     * `whsec_<base64>`, kept as given: signing needs the key itself, so it cannot be stored hashed.
     * It is never answered by the API after the PUT that generated it.
     */
    secret: { type: String, required: true },
    active: { type: Boolean, default: true },
  },
  { timestamps: true, strict: true },
);

// GET /api/webhooks pages by _id (the default index). emitWebhookEvent reads every webhook: the
// collection holds a handful of receivers, not a volume.

export type WebhookDoc = InferSchemaType<typeof webhookSchema> & { _id: string };
export const Webhook = mongoose.model('Webhook', webhookSchema);
