import { randomBytes } from 'node:crypto';
import mongoose, { Schema } from 'mongoose';
import { isDuplicateKey } from './mongo.js';

const settingSchema = new Schema(
  { _id: { type: String, required: true }, value: { type: Schema.Types.Mixed, required: true } },
  { timestamps: true, strict: true },
);
/** Install-wide values generated once and shared by every process (e.g. the tracking secret). */
export const Setting = mongoose.model('Setting', settingSchema);

/**
 * An install-wide value generated on first use and then shared by every process. Two processes
 * racing on first start both end up with the one the unique `_id` let in.
 */
export async function getOrCreateSetting<T>(id: string, make: () => T): Promise<T> {
  const found = await Setting.findById(id).lean<{ value: T }>();
  if (found) return found.value;
  try {
    await Setting.create({ _id: id, value: make() });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
  const doc = await Setting.findById(id).lean<{ value: T }>();
  if (!doc) throw new Error(`setting ${id} vanished`);
  return doc.value;
}

/** An install-wide value, or undefined when it was never set. */
export async function readSetting<T>(id: string): Promise<T | undefined> {
  return (await Setting.findById(id).lean<{ value: T }>())?.value;
}

/** Sets an install-wide value (last writer wins: for facts like a heartbeat, not for claims). */
export async function writeSetting<T>(id: string, value: T): Promise<void> {
  await Setting.updateOne({ _id: id }, { $set: { value } }, { upsert: true });
}

/** The HMAC key for tracking and unsubscribe tokens: TRACKING_SECRET, else generated once. */
export async function resolveTrackingSecret(configured: string | undefined): Promise<string> {
  return configured ?? getOrCreateSetting('trackingSecret', () => randomBytes(32).toString('base64url'));
}
