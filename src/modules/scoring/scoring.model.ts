import mongoose, { Schema } from 'mongoose';
import { registerLeadOwnedCollection } from '../leads/index.js';

/**
 * The score ledger: every point a lead has, one entry each. `_id` is deterministic (an award's cap
 * slot or `<version>:<eventId>:<ruleId>`, `decay:<leadId>:<passId>`), so no entry can be written
 * twice, whatever runs concurrently. A lead's `score` is the sum of its entries.
 */
const entrySchema = new Schema(
  {
    _id: { type: String, required: true },
    leadId: { type: Schema.Types.ObjectId, required: true },
    at: { type: Date, required: true },
    points: { type: Number, required: true },
    reason: { type: String, required: true },
    kind: { type: String, enum: ['award', 'decay'], required: true },
    version: { type: Number, required: true },
    ruleId: { type: String, default: null },
    eventId: { type: String, default: null },
    day: { type: String, default: null },
  },
  { timestamps: { createdAt: true, updatedAt: false }, strict: true, versionKey: false },
);
// a lead's ledger (GET /api/leads/:id/score, scoring's sums, merge and erasure by leadId)
entrySchema.index({ leadId: 1, at: 1 });
export const ScoreEntry = mongoose.model('ScoreEntry', entrySchema);
// a merge moves a lead's ledger to the survivor; erasure deletes it
registerLeadOwnedCollection(ScoreEntry.collection.name);

/** Every rule set ever saved; `_id` is its version (an insert claims the next one). */
const rulesetSchema = new Schema(
  {
    _id: { type: Number, required: true },
    rules: { type: Schema.Types.Mixed, default: () => [] },
    fit: { type: Schema.Types.Mixed, default: () => [] },
    decay: { type: Schema.Types.Mixed, default: null },
    cap: { type: Number, default: null },
    createdBy: { type: String, default: null },
  },
  { timestamps: { createdAt: true, updatedAt: false }, strict: true, versionKey: false, minimize: false },
);
export const ScoringRuleset = mongoose.model('ScoringRuleset', rulesetSchema);

/**
 * Rescoring after a rule change, one per version: a cursor over lead ids, checkpointed after each
 * page, so a crashed run resumes where it stopped.
 */
const rescoreSchema = new Schema(
  {
    _id: { type: Number, required: true },
    status: { type: String, enum: ['running', 'completed', 'superseded'], required: true },
    done: { type: Number, default: 0 },
    total: { type: Number, default: 0 },
    cursor: { type: String, default: null },
    finishedAt: { type: Date, default: null },
  },
  { timestamps: true, strict: true, versionKey: false },
);
export const RescoreRun = mongoose.model('RescoreRun', rescoreSchema);

/** One decay pass: which leads it covers, in how many chunks. */
const decayPassSchema = new Schema(
  {
    _id: { type: String, required: true },
    at: { type: Date, required: true },
    version: { type: Number, required: true },
    leads: { type: Number, default: 0 },
    chunks: { type: Number, default: 0 },
  },
  { timestamps: true, strict: true, versionKey: false },
);
export const DecayPass = mongoose.model('DecayPass', decayPassSchema);

/**
 * Which recorded events a scoring job has seen (`_id` = event id): an insert, cheap where an
 * update of the event is not. The reconciler re-enqueues recent events without a mark (a job
 * lost between the event's insert and its enqueue); marks older than a day are purged.
 */
const markSchema = new Schema(
  { _id: { type: String, required: true }, at: { type: Date, required: true } },
  { strict: true, versionKey: false },
);
// the cleanup task purges old marks
markSchema.index({ at: 1 });
export const ScoredMark = mongoose.model('ScoredMark', markSchema);

/**
 * How far the scoring reconciler has checked (`_id: 'events'`): every scorable event recorded
 * before `verifiedBefore` had its mark. Each run reads only the minutes after it (one or two), not
 * the whole half hour it looks back at most; a minute with an event still unmarked is read again.
 */
const reconcileCursorSchema = new Schema(
  { _id: { type: String, required: true }, verifiedBefore: { type: Date, required: true } },
  { strict: true, versionKey: false },
);
export const ScoringReconcileCursor = mongoose.model('ScoringReconcileCursor', reconcileCursorSchema);
