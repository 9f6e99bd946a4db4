import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * One immutable version of the qualification agreement (what marketing and sales agreed a
 * qualified lead is). `_id` IS the version: two racing PUTs cannot both insert the same number,
 * so the loser takes the next one (an `_id`-keyed insert is atomic on every MongoDB deployment).
 */
const agreementSchema = new Schema(
  {
    _id: { type: Number, required: true },
    threshold: { type: Number, required: true },
    require: {
      type: new Schema(
        {
          budget: { type: Boolean, default: false },
          authority: { type: Boolean, default: false },
          need: { type: Boolean, default: false },
          timeline: { type: Boolean, default: false },
          grade: { type: String, default: null },
        },
        { _id: false },
      ),
      default: () => ({}),
    },
    createOpportunity: { type: Boolean, default: true },
    opportunity: {
      type: new Schema(
        { amount: { type: Number, default: null }, closeIn: { type: String, default: null } },
        { _id: false },
      ),
      default: () => ({}),
    },
    slaHours: { type: Number, default: 24 },
    agreedBy: {
      type: new Schema({ marketing: String, sales: String }, { _id: false }),
      required: true,
    },
    /** the API key that stored this version */
    changedBy: { type: String, default: null },
    /**
     * the background re-evaluation of open leads this version started: `cursor` is the last lead
     * id handed out, so a crashed sweep resumes where it stopped
     */
    sweep: {
      type: new Schema(
        {
          status: { type: String, enum: ['running', 'done'], default: 'running' },
          cursor: { type: String, default: null },
          enqueued: { type: Number, default: 0 },
          updatedAt: { type: Date, default: null },
          finishedAt: { type: Date, default: null },
        },
        { _id: false },
      ),
      default: () => ({}),
    },
  },
  { timestamps: true, strict: true, minimize: false },
);

// no secondary index: the current version is the highest `_id`, history is `_id` order

export type AgreementDoc = InferSchemaType<typeof agreementSchema> & { _id: number };
export const QualificationAgreement = mongoose.model('QualificationAgreement', agreementSchema);
