import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * One qualification of a lead, written when the lead meets the whole agreement: the record the
 * handoff area consumes (via an id-only `handoff` job, and its reconciler when a job was lost).
 *
 * `_id` is `<leadId>:<cycle>`: cycle 1 is the lead's first qualification, and a lead whose handoff
 * was rejected and that qualifies again gets the next cycle. The insert of this `_id` is the
 * "exactly one handoff request per qualification" guarantee (FerretDB's conditional updates are
 * not atomic; an `_id`-keyed insert is, on every MongoDB deployment, sharded ones included).
 */
const handoffRequestSchema = new Schema(
  {
    _id: { type: String, required: true },
    leadId: { type: Schema.Types.ObjectId, required: true },
    cycle: { type: Number, required: true },
    agreementVersion: { type: Number, required: true },
    qualifiedAt: { type: Date, required: true },
    /** why: the score and its top reasons, the BANT answers and the grade at qualification */
    reasons: {
      type: new Schema(
        {
          score: { type: Number, required: true },
          topReasons: {
            type: [new Schema({ reason: String, points: Number, ruleId: String }, { _id: false })],
            default: [],
          },
          bant: { type: Schema.Types.Mixed, default: () => ({}) },
          grade: { type: String, default: null },
        },
        { _id: false },
      ),
      required: true,
    },
    /** set by the handoff area once it has taken the request (its own records say how far it got) */
    processedAt: { type: Date, default: null },
    /**
     * true until the request is taken (`processedAt` set; written together, see `takenUpdate`):
     * what the reconcilers ask for. The embedded default pushes an equality down to PostgreSQL's
     * indexes but not `null`, so `{processedAt: null}` read every request ever written, twice a
     * minute (docs/embedded-database.md)
     */
    open: { type: Boolean, default: true },
  },
  { timestamps: true, strict: true, minimize: false },
);

// the reconcilers: requests not yet taken, oldest first
handoffRequestSchema.index({ open: 1, qualifiedAt: 1 });
// a lead's qualifications (timeline, latest cycle)
handoffRequestSchema.index({ leadId: 1, cycle: -1 });

export type HandoffRequestDoc = InferSchemaType<typeof handoffRequestSchema>;
export const HandoffRequest = mongoose.model('HandoffRequest', handoffRequestSchema);

/** The `_id` of a lead's `cycle`-th qualification. */
export function handoffRequestId(leadId: string, cycle: number): string {
  return `${leadId}:${cycle}`;
}

/**
 * The BullMQ job id of a request's `handoff` job. BullMQ refuses custom ids with one `:` (it
 * reserves them for repeatable jobs), so the `:` of the request id becomes `-`; still one job per
 * request while the job is kept.
 */
export function handoffJobId(requestId: string): string {
  return `handoff-${requestId.replace(':', '-')}`;
}

/** Requests not taken yet, written at or before `before`: what the reconcilers read. */
export function openRequestsFilter(before: Date) {
  return { open: true, qualifiedAt: { $lte: before } };
}

/** The update that marks a request taken by the handoff area. */
export function takenUpdate(at: Date) {
  return { $set: { processedAt: at, open: false } };
}

/**
 * Requests written before `open` existed get it once (a scan, the first time a process reconciles;
 * afterwards every request is written with it and this matches nothing).
 */
let backfilled = false;
export async function backfillOpenFlag(force = false): Promise<void> {
  if (backfilled && !force) return;
  await HandoffRequest.updateMany({ open: { $exists: false }, processedAt: null }, { $set: { open: true } });
  await HandoffRequest.updateMany({ open: { $exists: false } }, { $set: { open: false } });
  backfilled = true;
}
