import mongoose, { Schema } from 'mongoose';

/**
 * Which account a company key belongs to: `_id` is `domain:<domain>` or `name:<normalised name>`.
 * Conversion claims the keys of an account it creates by inserting them, so two leads of one
 * company converting at the same moment end up on one account (the unique `_id` lets one in;
 * FerretDB's conditional updates are not atomic, its `_id` is).
 */
const accountKeySchema = new Schema(
  {
    _id: { type: String, required: true },
    accountId: { type: Schema.Types.ObjectId, required: true },
  },
  { timestamps: { createdAt: true, updatedAt: false }, strict: true, versionKey: false },
);

export const AccountKey = mongoose.model('AccountKey', accountKeySchema, 'accountkeys');
