import mongoose, { Schema } from 'mongoose';

/**
 * The right to make the one SMTP attempt of a send. Its `_id` is the EmailSend's id, so the unique
 * `_id` index lets exactly one worker insert it: at-most-once rests on that insert, not on a
 * conditional update (which FerretDB does not make atomic). Deleted only when the SMTP server
 * surely refused the message, so a retry may send.
 */
const sendClaimSchema = new Schema(
  {
    _id: { type: Schema.Types.ObjectId, required: true },
    /** which attempt holds it: lets an insert whose answer was lost recognise itself */
    owner: { type: String, required: true },
    claimedAt: { type: Date, required: true },
  },
  { strict: true, versionKey: false },
);

export const SendClaim = mongoose.model('SendClaim', sendClaimSchema, 'sendclaims');
