import mongoose, { Schema, type InferSchemaType, type Types } from 'mongoose';

/**
 * Everything that happened to a lead, in one collection: the timeline, and the input of scoring.
 * Types so far: form_submit, import, api_submit, status_change, stage_change, merged,
 * email_sent, email_open, email_click, email_bounce, unsubscribe, enrolled, enrollment_exit,
 * and custom types posted to /api/events.
 */
const eventSchema = new Schema(
  {
    leadId: { type: Schema.Types.ObjectId, required: true },
    type: { type: String, required: true, maxlength: 100 },
    occurredAt: { type: Date, required: true },
    properties: { type: Schema.Types.Mixed, default: () => ({}) },
    /** counts an event once: the caller's id (POST /api/events) or one we derive; unique */
    key: { type: String, required: true },
    /** whether scoring has seen it */
    scoredAt: { type: Date, default: null },
  },
  { timestamps: { createdAt: true, updatedAt: false }, strict: true, minimize: false },
);

// an event with an id counts once
eventSchema.index({ key: 1 }, { unique: true });
// timeline of one lead, newest first
eventSchema.index({ leadId: 1, occurredAt: -1 });
// scoring's reconciler: events recorded in the last half hour
eventSchema.index({ createdAt: 1 });

export type EventDoc = InferSchemaType<typeof eventSchema> & { _id: Types.ObjectId };
export const LeadEvent = mongoose.model('LeadEvent', eventSchema);
