import mongoose, { Schema, type InferSchemaType } from 'mongoose';

export const handoffStatuses = ['pending', 'accepted', 'rejected', 'expired'] as const;
export type HandoffStatus = (typeof handoffStatuses)[number];

/**
 * How the owner's notification went: `sent`; `unknown` when a crash left it mid-SMTP (never sent
 * again); `failed` when the server refused it; `awaiting_owner` while nobody can be assigned.
 */
export const notificationStatuses = [
  'pending',
  'sending',
  'sent',
  'unknown',
  'failed',
  'awaiting_owner',
] as const;

/**
 * One handoff of a qualified lead to sales. `_id` is the HandoffRequest's id (`<leadId>:<cycle>`):
 * the first worker to insert it owns the handoff, and every later attempt (a duplicate job, the
 * reconciler, a worker restarted after a crash) resumes from the steps recorded here.
 */
const handoffSchema = new Schema(
  {
    _id: { type: String, required: true },
    leadId: { type: Schema.Types.ObjectId, required: true },
    cycle: { type: Number, required: true },
    status: { type: String, enum: handoffStatuses, default: 'pending' },
    /** how far processing got: claimed → converted → assigned → notified → done */
    step: { type: String, default: 'claimed' },
    ownerId: { type: String, default: null },
    /** every owner so far (an SLA reassignment skips them) */
    owners: { type: [String], default: [] },
    accountId: { type: String, default: null },
    contactId: { type: String, default: null },
    opportunityId: { type: String, default: null },
    qualifiedAt: { type: Date, required: true },
    agreementVersion: { type: Number, required: true },
    /** a snapshot of why the lead qualified (score, top reasons, BANT, grade) */
    reasons: { type: Schema.Types.Mixed, default: () => ({}) },
    notifiedAt: { type: Date, default: null },
    notificationStatus: { type: String, enum: notificationStatuses, default: 'pending' },
    /** how many owner notifications were started (the first, then one per reassignment) */
    notifications: { type: Number, default: 0 },
    slaHours: { type: Number, default: null },
    slaDueAt: { type: Date, default: null },
    /** 0: on time; 1: reminded; 2: reassigned (the next overdue check expires it) */
    slaStage: { type: Number, default: 0 },
    reason: { type: String, default: null },
    recycleTo: { type: String, default: null },
    decidedAt: { type: Date, default: null },
    decidedBy: { type: String, default: null },
    history: {
      type: [new Schema({ at: Date, action: String, detail: String, by: String }, { _id: false })],
      default: [],
    },
  },
  { timestamps: true, strict: true, minimize: false },
);

// GET /api/handoffs (newest first), the SLA check and a rep's open handoffs (capacity)
handoffSchema.index({ status: 1, createdAt: -1 });
handoffSchema.index({ ownerId: 1, status: 1, createdAt: -1 });
handoffSchema.index({ status: 1, slaDueAt: 1 });
handoffSchema.index({ createdAt: -1 });
// a lead's handoffs
handoffSchema.index({ leadId: 1 });

export type HandoffDoc = InferSchemaType<typeof handoffSchema> & { _id: string };
export const Handoff = mongoose.model('Handoff', handoffSchema);

/**
 * A decision taken once: `_id` names it (`conversion:<leadId>`, `assign:<handoffId>:<n>`,
 * `notify:<handoffId>:<n>`, `decision:<handoffId>`...) and `value` holds what was decided. The
 * first insert wins; everyone else adopts its value. This, not a conditional update (which
 * FerretDB does not make atomic), is what makes a handoff happen once.
 */
const handoffClaimSchema = new Schema(
  {
    _id: { type: String, required: true },
    value: { type: Schema.Types.Mixed, default: null },
    owner: { type: String, required: true },
  },
  { timestamps: { createdAt: true, updatedAt: false }, strict: true, versionKey: false, minimize: false },
);
export const HandoffClaim = mongoose.model('HandoffClaim', handoffClaimSchema, 'handoffclaims');
