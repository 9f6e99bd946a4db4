import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { conflict } from '../../lib/errors.js';
import { insertManyRefusingDuplicates } from '../../lib/mongo.js';
import { getOrCreateSetting, readSetting } from '../../lib/settings.js';
import { EmailClaim, type EmailClaimDoc } from './email-claim.model.js';
import { Lead } from './lead.model.js';

/** A key's owner: `ours` when this call made the claim (for a lead not written yet). */
export type Claim = { leadId: Types.ObjectId; at: Date; ours: boolean };

/** How long a claim may disagree with its lead (a PATCH moving an email in flight) before it is a leftover. */
export const claimGraceMs = 60_000;

/**
 * Claims each key for a fresh lead id; for a key claimed before, answers the existing claim. One
 * `_id` read finds the keys claimed already, one unordered insert claims the rest, and a key
 * claimed by someone else in between is refused by `_id` uniqueness and read again. A key missing
 * from the answer was released meanwhile (an erasure): the caller tries again.
 *
 * Reading first costs new addresses one indexed read and spares repeat ones a refused insert:
 * FerretDB v1 answers a batch insert that meets a duplicate by inserting the batch again one
 * document at a time, a transaction each (2.3× slower repeat submissions, measured).
 */
export async function claimEmails(keys: string[], now: Date): Promise<Map<string, Claim>> {
  await ensureEmailRegistry();
  const out = await readClaims(keys);
  const docs = keys
    .filter((k) => !out.has(k))
    .map((k) => ({ _id: k, leadId: new Types.ObjectId(), at: now }));
  const refused = await insertManyRefusingDuplicates(EmailClaim.collection, docs);
  docs.forEach((d, i) => {
    if (!refused.has(i)) out.set(d._id, { leadId: d.leadId, at: now, ours: true });
  });
  const taken = docs.filter((_, i) => refused.has(i)).map((d) => d._id);
  for (const [k, c] of await readClaims(taken)) out.set(k, c);
  return out;
}

/** Claims one key for this lead; false when another claim holds it. */
export async function insertClaim(key: string, leadId: Types.ObjectId, at: Date): Promise<boolean> {
  const refused = await insertManyRefusingDuplicates(EmailClaim.collection, [{ _id: key, leadId, at }]);
  return refused.size === 0;
}

/** The current claims of these keys (`_id` reads only). */
export async function readClaims(keys: string[]): Promise<Map<string, Claim>> {
  if (keys.length === 0) return new Map();
  await ensureEmailRegistry();
  const found = await EmailClaim.find({ _id: { $in: keys } }).lean<EmailClaimDoc[]>();
  return new Map(found.map((c) => [c._id, { leadId: c.leadId, at: c.at, ours: false }]));
}

/** Releases a key, but only if `leadId` still owns it. */
export async function releaseClaim(key: string, leadId: Types.ObjectId): Promise<void> {
  await EmailClaim.deleteOne({ _id: key, leadId });
}

/** Releases the keys these leads own (an erasure). */
export async function releaseClaims(keys: string[], leadIds: Types.ObjectId[]): Promise<void> {
  if (keys.length) await EmailClaim.deleteMany({ _id: { $in: keys }, leadId: { $in: leadIds } });
}

/**
 * A PATCH changing a lead's email, step one: claims the new key for the lead (or finds it already
 * the lead's, or one of its tombstones'). 409 when another lead owns the address. The caller then
 * writes the lead and releases the old key with `releaseClaim`.
 */
export async function claimEmailFor(lead: Types.ObjectId, key: string): Promise<void> {
  await ensureEmailRegistry();
  if (await insertClaim(key, lead, clock.now())) return;
  const owner = (await readClaims([key])).get(key);
  // released between our insert and our read (an erasure): claim it again
  if (!owner) return claimEmailFor(lead, key);
  if (owner.leadId.equals(lead)) return;
  const ownerLead = await Lead.findById(owner.leadId, { mergedInto: 1, emailKey: 1 }).lean();
  if (ownerLead?.mergedInto?.equals(lead)) return;
  throw conflict('another lead has this email address');
}

// Leads written before the registry existed get their claims once per database: a marker setting
// says it is done, and every process waits for it before its first claim.
const registryReady = 'leads.emailRegistry';
let ready: Promise<void> | undefined;

/** Backfills claims for leads stored before the registry (once per database). */
export function ensureEmailRegistry(): Promise<void> {
  ready ??= backfillClaims().catch((err: unknown) => {
    ready = undefined;
    throw err;
  });
  return ready;
}

/** For tests and tools that switch databases within one process. */
export function forgetEmailRegistryState(): void {
  ready = undefined;
}

async function backfillClaims(): Promise<void> {
  if (await readSetting(registryReady)) return;
  const at = clock.now();
  let batch: { _id: string; leadId: Types.ObjectId; at: Date }[] = [];
  // oldest first: where an old database has two leads for one address, the first keeps it
  for await (const l of Lead.find({}, { emailKey: 1 }).sort({ _id: 1 }).lean().cursor()) {
    batch.push({ _id: l.emailKey, leadId: l._id, at });
    if (batch.length >= 1000) {
      await insertManyRefusingDuplicates(EmailClaim.collection, batch);
      batch = [];
    }
  }
  await insertManyRefusingDuplicates(EmailClaim.collection, batch);
  // the unique secondary index the registry replaces (a sharded cluster cannot have it)
  const indexes = await Lead.collection.indexes().catch(() => []);
  if (indexes.some((i) => i.name === 'emailKey_1' && i.unique)) {
    await Lead.collection.dropIndex('emailKey_1').catch(() => undefined);
  }
  await getOrCreateSetting(registryReady, () => at.toISOString());
}
