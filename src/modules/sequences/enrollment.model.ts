import mongoose, { Schema, type InferSchemaType, type Types } from 'mongoose';
import { registerLeadOwnedCollection } from '../leads/index.js';

export const enrollmentStates = ['active', 'completed', 'exited'] as const;
export type EnrollmentState = (typeof enrollmentStates)[number];

const historySchema = new Schema(
  {
    at: { type: Date, required: true },
    /** enrolled | sent | skipped | deferred | completed | exited */
    action: { type: String, required: true },
    stepId: { type: String, default: null },
    /** why (deferred: window/cap; exited: the reason; sent: the variant) */
    detail: { type: String, default: null },
    sendId: { type: String, default: null },
  },
  { _id: false },
);

/**
 * A lead's walk through one version of a sequence.
 *
 * `slot` is the "one active enrollment per (lead, sequence)" claim: `${leadId}:${sequenceKey}`
 * while active, renamed to `${leadId}:${sequenceKey}:${_id}` when it ends. It rests on a unique
 * index because a conditional update is not atomic on every MongoDB-compatible server.
 */
const enrollmentSchema = new Schema(
  {
    leadId: { type: Schema.Types.ObjectId, required: true },
    sequenceKey: { type: String, required: true },
    version: { type: Number, required: true },
    slot: { type: String, required: true },
    state: { type: String, enum: enrollmentStates, default: 'active' },
    exitReason: { type: String, default: null },
    /** index of the next step to run */
    currentStep: { type: Number, default: 0 },
    /** when the next step is due (null once finished); the reconciler reads it */
    nextRunAt: { type: Date, default: null },
    /** what the next step's wait counts from: the previous step's send, or enrollment */
    anchorAt: { type: Date, required: true },
    enrolledAt: { type: Date, required: true },
    finishedAt: { type: Date, default: null },
    history: { type: [historySchema], default: [] },
  },
  { timestamps: true, strict: true },
);

// one active enrollment per (lead, sequence)
enrollmentSchema.index({ slot: 1 }, { unique: true });
// reconciler: active enrollments whose next step is due
enrollmentSchema.index({ state: 1, nextRunAt: 1 });
// exitEnrollmentsForLead, re-enrollment policy, frequency cap (a lead's enrollments)
enrollmentSchema.index({ leadId: 1, sequenceKey: 1 });
// stats: counts per state for one sequence
enrollmentSchema.index({ sequenceKey: 1, state: 1 });

export type EnrollmentDoc = InferSchemaType<typeof enrollmentSchema> & { _id: Types.ObjectId };
export const Enrollment = mongoose.model('Enrollment', enrollmentSchema);
// a lead's merge moves its enrollments to the survivor; its erasure deletes them
registerLeadOwnedCollection(Enrollment.collection.name);
