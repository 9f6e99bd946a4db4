import mongoose, { Schema, type InferSchemaType, type Types } from 'mongoose';

/** A company sales works with (Salesforce's Account); conversion creates or reuses one. */
const accountSchema = new Schema(
  {
    name: { type: String, required: true },
    /** the name trimmed and case-folded: how conversion and Find Duplicates match a company */
    nameKey: { type: String, required: true },
    website: { type: String, default: null },
    industry: { type: String, default: null },
    country: { type: String, default: null },
    /** the company's web domain (from the website or a non-free-mail email): how conversion matches */
    domain: { type: String, default: null },
    /** the rep who owns the account; later handoffs of its people go to them */
    ownerId: { type: String, default: null },
    /** prospect until an opportunity is won */
    type: { type: String, enum: ['prospect', 'customer'], default: 'prospect' },
  },
  { timestamps: true, strict: true },
);

// conversion reuses the account of a company; Find Duplicates matches contacts by company
accountSchema.index({ nameKey: 1 });
// conversion matches an account by company domain
accountSchema.index({ domain: 1 });

export type AccountDoc = InferSchemaType<typeof accountSchema> & { _id: Types.ObjectId };
export const Account = mongoose.model('Account', accountSchema);
