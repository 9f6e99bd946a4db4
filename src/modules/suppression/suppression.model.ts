import mongoose, { Schema } from 'mongoose';

export const suppressionReasons = ['unsubscribe', 'bounce', 'complaint', 'manual', 'erased'] as const;
export type SuppressionReason = (typeof suppressionReasons)[number];

/**
 * Addresses that get no marketing email. Keyed by a hash of the normalised email, so an erased
 * person's unsubscribe is still honoured without keeping the address.
 */
const suppressionSchema = new Schema(
  {
    emailHash: { type: String, required: true },
    reason: { type: String, enum: suppressionReasons, required: true },
  },
  { timestamps: true, strict: true },
);
// is this address suppressed? (checked before every marketing send)
suppressionSchema.index({ emailHash: 1 }, { unique: true });

export const Suppression = mongoose.model('Suppression', suppressionSchema);
