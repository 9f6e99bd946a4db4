import mongoose, { Schema, type InferSchemaType, type Types } from 'mongoose';

/** Salesforce's opportunity stages, in order; the two closed ones end a deal (and can be reopened). */
export const opportunityStages = [
  'prospecting',
  'qualification',
  'proposal',
  'negotiation',
  'closed_won',
  'closed_lost',
] as const;
export type OpportunityStage = (typeof opportunityStages)[number];

/**
 * A deal with an account, created by conversion (Salesforce's Opportunity). Its `_id` is derived
 * from the handoff request (or the manual conversion) that made it, so a repeated conversion
 * step inserts the same `_id` and the unique `_id` index refuses a second one.
 */
const opportunitySchema = new Schema(
  {
    _id: { type: Schema.Types.ObjectId, required: true },
    name: { type: String, required: true },
    accountId: { type: Schema.Types.ObjectId, required: true },
    contactId: { type: Schema.Types.ObjectId, default: null },
    leadId: { type: Schema.Types.ObjectId, default: null },
    /** the handoff (request id) that created it; null for a manual conversion */
    handoffId: { type: String, default: null },
    ownerId: { type: String, default: null },
    amount: { type: Number, default: null },
    closeDate: { type: Date, default: null },
    stage: { type: String, enum: opportunityStages, default: 'prospecting' },
    /** why it was lost (a rejected handoff's reason, or a PATCH to closed_lost) */
    lostReason: { type: String, default: null },
    closedAt: { type: Date, default: null },
    history: {
      type: [new Schema({ at: Date, from: String, to: String, reason: String, by: String }, { _id: false })],
      default: [],
    },
  },
  { timestamps: true, strict: true },
);

// GET /api/opportunities?accountId= and an account's opportunities
opportunitySchema.index({ accountId: 1, _id: -1 });
// GET /api/opportunities?ownerId=
opportunitySchema.index({ ownerId: 1, _id: -1 });
// GET /api/opportunities?stage=
opportunitySchema.index({ stage: 1, _id: -1 });
// a contact's and a lead's opportunities
opportunitySchema.index({ contactId: 1 });
opportunitySchema.index({ leadId: 1 });

export type OpportunityDoc = InferSchemaType<typeof opportunitySchema> & { _id: Types.ObjectId };
export const Opportunity = mongoose.model('Opportunity', opportunitySchema);
