import mongoose, { Schema, type InferSchemaType, type Types } from 'mongoose';

/** A person sales works with, created when a lead converts (Salesforce's Contact). */
const contactSchema = new Schema(
  {
    email: { type: String, required: true },
    /** trimmed and case-folded, as Lead.emailKey: how capture recognises a returning contact */
    emailKey: { type: String, required: true },
    firstName: { type: String, default: null },
    lastName: { type: String, default: null },
    phone: { type: String, default: null },
    title: { type: String, default: null },
    accountId: { type: Schema.Types.ObjectId, default: null },
    /** the rep who owns the contact (the account's owner at conversion) */
    ownerId: { type: String, default: null },
    /** the lead this contact was converted from */
    leadId: { type: Schema.Types.ObjectId, default: null },
  },
  { timestamps: true, strict: true },
);

// capture's dedup ("contact comes back as a lead") and Find Duplicates by email: one contact per email
contactSchema.index({ emailKey: 1 }, { unique: true });
// an account's contacts
contactSchema.index({ accountId: 1 });
// Find Duplicates by phone
contactSchema.index({ phone: 1 });
// Find Duplicates by name (+ the account's company)
contactSchema.index({ lastName: 1, firstName: 1 });

export type ContactDoc = InferSchemaType<typeof contactSchema> & { _id: Types.ObjectId };
export const Contact = mongoose.model('Contact', contactSchema);
