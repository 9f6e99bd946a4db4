import mongoose, { Schema, type InferSchemaType, type Types } from 'mongoose';

export const leadStatuses = [
  'open',
  'contacted',
  'nurturing',
  'qualified',
  'unqualified',
  'converted',
] as const;
export type LeadStatus = (typeof leadStatuses)[number];

/** Lifecycle stages in order; a lead only moves forward (except a rejected handoff: back to `lead`). */
export const lifecycleStages = ['subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer'] as const;
export type LifecycleStage = (typeof lifecycleStages)[number];

/** The lead fields people and forms set (API.md's Lead, camelCase). */
export const leadFields = [
  'email',
  'firstName',
  'lastName',
  'company',
  'title',
  'phone',
  'country',
  'source',
] as const;
export type LeadField = (typeof leadFields)[number];

/** BANT answers: text or `true`/`false` (Mixed, so `false` is not stored as the text "false") */
const bantSchema = new Schema(
  {
    budget: { type: Schema.Types.Mixed, default: null },
    authority: { type: Schema.Types.Mixed, default: null },
    need: { type: Schema.Types.Mixed, default: null },
    timeline: { type: Schema.Types.Mixed, default: null },
  },
  { _id: false },
);

const conversionSchema = new Schema(
  {
    accountId: { type: String, default: null },
    contactId: { type: String, default: null },
    opportunityId: { type: String, default: null },
  },
  { _id: false },
);

const leadSchema = new Schema(
  {
    /** as the person typed it (trimmed) */
    email: { type: String, required: true },
    /** trimmed and case-folded: what "the same person" means */
    emailKey: { type: String, required: true },
    firstName: { type: String, default: null },
    lastName: { type: String, default: null },
    company: { type: String, default: null },
    title: { type: String, default: null },
    /** E.164 when it parses, else as given */
    phone: { type: String, default: null },
    /** ISO 3166-1 alpha-2 */
    country: { type: String, default: null },
    source: { type: String, default: null },
    status: { type: String, enum: leadStatuses, default: 'open' },
    lifecycleStage: { type: String, enum: lifecycleStages, default: 'lead' },
    /** the sum of the lead's score ledger (written only by scoring) */
    score: { type: Number, default: 0 },
    /** scoring's decay clock: when the score last decayed (or became positive) */
    scoreDecayedAt: { type: Date, default: null },
    grade: { type: String, default: null },
    bant: { type: bantSchema, default: () => ({}) },
    ownerId: { type: String, default: null },
    unsubscribed: { type: Boolean, default: false },
    /** custom fields (declared form fields, imported columns); keys are plain names, no `$` or `.` */
    attributes: { type: Schema.Types.Mixed, default: () => ({}) },
    convertedAt: { type: Date, default: null },
    conversion: { type: conversionSchema, default: null },
    /** set on a lead merged into another: a tombstone whose old links resolve to the survivor */
    mergedInto: { type: Schema.Types.ObjectId, default: null },
    /** set when the email already belongs to a Contact ("contact comes back as a lead") */
    existingContactId: { type: String, default: null },
    /** when each lifecycle stage was first reached (funnel reports) */
    stageDates: { type: Schema.Types.Mixed, default: () => ({}) },
    lastActivityAt: { type: Date, default: null },
    /**
     * the latest qualification (written by the qualification area):
     * `{cycle, agreementVersion, qualifiedAt, requestId}`; cycle counts the lead's qualifications
     */
    qualification: { type: Schema.Types.Mixed, default: null },
    /** when a rejected handoff returned the lead to nurture: it requalifies only after new engagement */
    recycledAt: { type: Date, default: null },
    /**
     * campaign attribution (website tracking and forms): `{firstTouch, lastTouch}`, each
     * `{at, utm_source?, utm_medium?, utm_campaign?, utm_term?, utm_content?, gclid?, fbclid?, landingPage?, referrer?}`
     */
    attribution: { type: Schema.Types.Mixed, default: null },
  },
  { timestamps: true, strict: true, minimize: false },
);

// lookups by address (GET /api/leads?email=, suppression). Not unique: the guarantee of one lead
// per email is the `_id`-keyed email registry (email-claim.model.ts), which also holds on a sharded
// cluster; this key pattern differs from the unique index older databases have, which the registry
// backfill drops.
leadSchema.index({ emailKey: 1, _id: 1 });
// GET /api/leads?status=&stage= sorted by id (cursor pagination)
leadSchema.index({ status: 1, _id: 1 });
leadSchema.index({ lifecycleStage: 1, _id: 1 });
// GET /api/leads?ownerId= and a rep's queue
leadSchema.index({ ownerId: 1, _id: 1 });
// Find Duplicates by phone
leadSchema.index({ phone: 1 });
// Find Duplicates by name + company
leadSchema.index({ lastName: 1, company: 1 });
// the funnel report: leads that reached a stage in a period (one range scan per stage)
for (const stage of lifecycleStages) leadSchema.index({ [`stageDates.${stage}`]: 1 });
// scoring's decay pass: leads whose score is above zero
leadSchema.index({ score: 1 });
// tombstones of a lead (erasure deletes them, a merge re-points them)
leadSchema.index({ mergedInto: 1 });

export type LeadDoc = InferSchemaType<typeof leadSchema> & { _id: Types.ObjectId };
export const Lead = mongoose.model('Lead', leadSchema);
