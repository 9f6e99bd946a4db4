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
    /**
     * the minute of `createdAt` (`2026-12-02T14:25`, UTC): what scoring's reconciler asks for, as an
     * equality ($in of the last half hour's minutes). The embedded default pushes equality down to
     * PostgreSQL's indexes but no range, so `createdAt: {$gte}` read every event ever recorded,
     * once a minute (docs/embedded-database.md)
     */
    createdMinute: { type: String, default: null },
  },
  { timestamps: { createdAt: true, updatedAt: false }, strict: true, minimize: false },
);

// an event with an id counts once
eventSchema.index({ key: 1 }, { unique: true });
// timeline of one lead, newest first
eventSchema.index({ leadId: 1, occurredAt: -1 });
// scoring's reconciler: events recorded in the last half hour, by minute
eventSchema.index({ createdMinute: 1 });
eventSchema.pre('validate', function () {
  this.createdMinute ??= minuteOf(this.createdAt ?? new Date());
});

/** `createdMinute` of a time: its UTC minute, `YYYY-MM-DDTHH:MM`. */
export function minuteOf(at: Date): string {
  return at.toISOString().slice(0, 16);
}

/** Every minute from `from` to `to` (both included), as `minuteOf` writes them. */
export function minutesBetween(from: Date, to: Date): string[] {
  const out: string[] = [];
  for (let t = Math.floor(from.getTime() / 60_000) * 60_000; t <= to.getTime(); t += 60_000)
    out.push(minuteOf(new Date(t)));
  return out;
}

export type EventDoc = InferSchemaType<typeof eventSchema> & { _id: Types.ObjectId };
export const LeadEvent = mongoose.model('LeadEvent', eventSchema);
