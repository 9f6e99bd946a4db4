import mongoose, { Schema } from 'mongoose';

/**
 * A signed-in browser. `_id` is the sha256 of the random token in the session cookie (a stolen
 * database row cannot be replayed as a cookie); `keyHash` is the sha256 of the API key signed in
 * with, re-checked on every page so revoking the key ends the session.
 */
const webSessionSchema = new Schema(
  {
    _id: { type: String, required: true },
    keyHash: { type: String, required: true },
    expiresAt: { type: Date, required: true },
  },
  { timestamps: { createdAt: true, updatedAt: false }, strict: true },
);
// sign-out of every session of a key, and the cleanup of expired ones
webSessionSchema.index({ expiresAt: 1 });

export const WebSession = mongoose.model('WebSession', webSessionSchema);
