import mongoose, { Schema, type InferSchemaType, type Types } from 'mongoose';
import { registerLeadOwnedCollection } from '../leads/index.js';

/**
 * One email to one lead for one (enrollment, step). Written before the SMTP call; its unique key
 * is the "at most one email per (enrollment, step)" guarantee.
 *
 * status: pending → sending → sent | bounced | failed; `unknown` when a crash left a send in
 * `sending` (never retried silently); `suppressed`/`skipped` when the lead may no longer be mailed.
 */
export const sendStatuses = [
  'pending',
  'sending',
  'sent',
  'bounced',
  'failed',
  'unknown',
  'suppressed',
  'skipped',
] as const;
export type SendStatus = (typeof sendStatuses)[number];

const sendSchema = new Schema(
  {
    /** `${enrollmentId}:${stepId}` for sequence mail; unique */
    sendKey: { type: String, required: true },
    leadId: { type: Schema.Types.ObjectId, required: true },
    enrollmentId: { type: Schema.Types.ObjectId, default: null },
    sequenceKey: { type: String, default: null },
    sequenceVersion: { type: Number, default: null },
    stepId: { type: String, default: null },
    /** A/B variant id when the step has variants */
    variant: { type: String, default: null },
    /** what to render, snapshotted from the step when the send was recorded */
    content: {
      subject: { type: String, required: true },
      html: { type: String, default: null },
      text: { type: String, default: null },
      template: { type: String, default: null },
    },
    /** marketing mail carries unsubscribe links and is subject to suppression */
    marketing: { type: Boolean, default: true },
    status: { type: String, enum: sendStatuses, default: 'pending' },
    messageId: { type: String, default: null },
    attempts: { type: Number, default: 0 },
    error: { type: String, default: null },
    sentAt: { type: Date, default: null },
    openedAt: { type: Date, default: null },
    clickedAt: { type: Date, default: null },
  },
  { timestamps: true, strict: true },
);

// at most one email per (enrollment, step)
sendSchema.index({ sendKey: 1 }, { unique: true });
// a lead's emails (timeline, branching on opened/clicked)
sendSchema.index({ leadId: 1, createdAt: -1 });
// sequence stats per step
sendSchema.index({ sequenceKey: 1, stepId: 1, status: 1 });
// recovery: sends stuck in `sending` after a crash
sendSchema.index({ status: 1, updatedAt: 1 });

export type SendDoc = InferSchemaType<typeof sendSchema> & { _id: Types.ObjectId };
export const EmailSend = mongoose.model('EmailSend', sendSchema);
// a lead's merge moves its emails to the survivor; its erasure deletes them
registerLeadOwnedCollection(EmailSend.collection.name);
