import mongoose, { Schema, type Types } from 'mongoose';

/**
 * The email registry: one document per normalised email, `_id` = the emailKey, naming the lead
 * that owns the address. Inserting it is the "one lead per email" guarantee: `_id` is unique on
 * every server, FerretDB and a sharded MongoDB alike (a unique secondary index is not enforceable
 * across shards unless it is the shard key), and reading it by `_id` is the cheapest lookup there is.
 *
 * A claim names the lead by id before that lead is written, so whoever inserts the lead inserts it
 * under that id and `_id` uniqueness makes exactly one lead. A merged lead (tombstone) keeps its
 * claim: its key resolves through `mergedInto` to the survivor.
 */
const emailClaimSchema = new Schema(
  {
    _id: { type: String, required: true },
    leadId: { type: Schema.Types.ObjectId, required: true },
    /** when the claim was made; a claim that disagrees with its lead for longer is a crash's leftover */
    at: { type: Date, required: true },
  },
  { strict: true, versionKey: false, collection: 'leademailclaims' },
);

export type EmailClaimDoc = { _id: string; leadId: Types.ObjectId; at: Date };
export const EmailClaim = mongoose.model('EmailClaim', emailClaimSchema);
