import type { Types } from 'mongoose';
import { insertManyRefusingDuplicates, writeInChunks } from '../../lib/mongo.js';
import {
  claimEmails,
  claimGraceMs,
  insertClaim,
  readClaims,
  releaseClaim,
  type Claim,
} from './email-registry.service.js';
import { Lead, type LeadDoc } from './lead.model.js';
import { fillEmptyFields, type NormalizedLead } from './normalize-input.js';
import { stageDatePaths } from './stages.js';

/** The inputs of one batch that share an email: their combined values and their positions. */
export type Group = { lead: NormalizedLead; indices: number[] };

/** Where each email of a batch landed: the live lead's id, and the keys whose lead this call created. */
export type Landing = { leadIdByKey: Map<string, string>; createdKeys: Set<string> };

/** What one round leaves to the next: keys whose claim or lead changed under us. */
type Retry = string[];

/** A lead about to be written for a key: its capture is marked pending first (no lead left behind). */
export type PendingEntry = { key: string; leadId: string; created: boolean };

export type LandingOptions = {
  now: Date;
  /** writes the pending-capture markers; called before the leads they name are written */
  markPending: (entries: PendingEntry[]) => Promise<void>;
  /** `subscriber`: a newsletter-only form (see CaptureContext.stage) */
  stage?: 'subscriber';
};

/**
 * Lands every email on exactly one lead, also under concurrent submissions from any number of
 * processes: the email registry's `_id`-keyed claim names the lead id, and `_id` uniqueness makes
 * exactly one insert of that lead succeed. A round that meets a claim or lead changing under it
 * (an erasure, a half-done capture) tries those keys again, up to three rounds.
 */
export async function landLeads(groups: Map<string, Group>, opts: LandingOptions): Promise<Landing> {
  const landing: Landing = { leadIdByKey: new Map(), createdKeys: new Set() };
  let pending = [...groups.keys()];
  for (let round = 0; round < 3 && pending.length > 0; round++) {
    const claims = await claimEmails(pending, opts.now);
    const released = pending.filter((k) => !claims.has(k));
    const ours = pending.filter((k) => claims.get(k)?.ours);
    const theirs = pending.filter((k) => claims.get(k)?.ours === false);
    const [fresh, repeats] = await Promise.all([
      createLeads(ours, claims, groups, landing, opts),
      landOnClaimedLeads(theirs, claims, groups, landing, opts),
    ]);
    pending = [...released, ...fresh, ...repeats];
  }
  if (pending.length) throw new Error(`could not capture ${pending.length} lead(s) after retries`);
  return landing;
}

function newLeadDoc(
  id: Types.ObjectId,
  n: NormalizedLead,
  now: Date,
  stage: 'lead' | 'subscriber',
): Record<string, unknown> {
  const doc = new Lead({
    ...n,
    _id: id,
    status: 'open',
    lifecycleStage: stage,
    stageDates: { [stage]: now },
    lastActivityAt: now,
    unsubscribed: n.emailOptOut === true,
  }).toObject({ depopulate: true });
  return { ...doc, createdAt: now, updatedAt: now };
}

/**
 * Inserts the leads of these keys under their claimed ids in one unordered insert. An id refused
 * means another request (repairing a claim it found without its lead) inserted it first: the key
 * is tried again and lands on that lead as a repeat.
 */
async function createLeads(
  keys: string[],
  claims: Map<string, Claim>,
  groups: Map<string, Group>,
  landing: Landing,
  opts: LandingOptions,
): Promise<Retry> {
  if (keys.length === 0) return [];
  await opts.markPending(
    keys.map((key) => ({ key, leadId: String(claims.get(key)!.leadId), created: true })),
  );
  const docs = keys.map((k) =>
    newLeadDoc(claims.get(k)!.leadId, groups.get(k)!.lead, opts.now, opts.stage ?? 'lead'),
  );
  const refused = await insertManyRefusingDuplicates(Lead.collection, docs);
  const retry: Retry = [];
  keys.forEach((k, i) => {
    if (refused.has(i)) return void retry.push(k);
    landing.createdKeys.add(k);
    landing.leadIdByKey.set(k, String(claims.get(k)!.leadId));
  });
  return retry;
}

/**
 * Repeat submissions: one `_id` read of the claimed leads (and of the survivors of merged ones),
 * then one bulk write filling their empty fields; existing values are never overwritten. A claim
 * whose lead is missing is repaired by creating the lead under the claimed id.
 */
async function landOnClaimedLeads(
  keys: string[],
  claims: Map<string, Claim>,
  groups: Map<string, Group>,
  landing: Landing,
  opts: LandingOptions,
): Promise<Retry> {
  if (keys.length === 0) return [];
  const now = opts.now;
  const { leadOf, targetOf } = await loadClaimedLeads(keys, claims);
  const missing: string[] = [];
  const retry: Retry = [];
  const ops: { updateOne: { filter: object; update: object } }[] = [];
  const filled: PendingEntry[] = [];
  for (const k of keys) {
    const claim = claims.get(k)!;
    const lead = leadOf(claim);
    if (!lead) {
      missing.push(k); // a claim without its lead: a capture still writing it, or one that died
      continue;
    }
    const target = targetOf(lead);
    if (!target || (lead.emailKey !== k && now.getTime() - claim.at.getTime() > claimGraceMs)) {
      // the lead no longer has this address (a PATCH or erasure that died half-way): free it
      await releaseClaim(k, claim.leadId);
      retry.push(k);
      continue;
    }
    landing.leadIdByKey.set(k, String(target._id));
    filled.push({ key: k, leadId: String(target._id), created: false });
    const incoming = groups.get(k)!.lead;
    const set = {
      ...fillEmptyFields(target, incoming),
      ...promotion(target, opts.stage, now),
      lastActivityAt: now,
      updatedAt: now,
    };
    if (incoming.emailOptOut) Object.assign(set, { unsubscribed: true });
    ops.push({ updateOne: { filter: { _id: target._id }, update: { $set: set } } });
  }
  const fill = async () => {
    if (ops.length === 0) return;
    await opts.markPending(filled);
    // side by side in small chunks: a server that applies a bulk write's updates one by one
    // (FerretDB v1) uses several connections at once, MongoDB still gets bulk writes
    await writeInChunks(ops, (chunk) => Lead.bulkWrite(chunk, { ordered: false, timestamps: false }), {
      chunk: 4,
    });
  };
  const [repaired] = await Promise.all([repairMissingLeads(missing, claims, groups, landing, opts), fill()]);
  return [...retry, ...repaired];
}

/** A subscriber's first capture by anything but a newsletter-only form makes it a lead. */
function promotion(target: LeadDoc, stage: 'subscriber' | undefined, now: Date): Record<string, unknown> {
  if (stage === 'subscriber' || target.lifecycleStage !== 'subscriber') return {};
  return {
    lifecycleStage: 'lead',
    ...stageDatePaths('lead', target.stageDates as Record<string, unknown>, now),
  };
}

async function loadClaimedLeads(keys: string[], claims: Map<string, Claim>) {
  const ids = [...new Set(keys.map((k) => String(claims.get(k)!.leadId)))];
  const leads = await Lead.find({ _id: { $in: ids } }).lean<LeadDoc[]>();
  const survivorIds = leads.filter((l) => l.mergedInto).map((l) => l.mergedInto!);
  const survivors = survivorIds.length
    ? await Lead.find({ _id: { $in: survivorIds }, mergedInto: null }).lean<LeadDoc[]>()
    : [];
  const byId = new Map([...leads, ...survivors].map((l) => [String(l._id), l]));
  return {
    leadOf: (c: Claim) => byId.get(String(c.leadId)),
    /** a tombstone's address lands on its survivor */
    targetOf: (l: LeadDoc) => (l.mergedInto ? byId.get(String(l.mergedInto)) : l),
  };
}

/**
 * A claim without its lead (its capture is still writing it, or died after claiming): create the
 * lead under the claimed id. `_id` uniqueness makes this safe against the original capture. If
 * an erasure released the claim meanwhile, the lead must own the address again, or it is removed
 * and the key tried again (never a lead the registry does not know).
 */
async function repairMissingLeads(
  keys: string[],
  claims: Map<string, Claim>,
  groups: Map<string, Group>,
  landing: Landing,
  opts: LandingOptions,
): Promise<Retry> {
  if (keys.length === 0) return [];
  const now = opts.now;
  const probe: Landing = { leadIdByKey: new Map(), createdKeys: new Set() };
  const retry = await createLeads(keys, claims, groups, probe, opts);
  const created = [...probe.createdKeys];
  const current = await readClaims(created);
  for (const k of created) {
    const id = claims.get(k)!.leadId;
    let owned = current.get(k)?.leadId.equals(id) ?? false;
    if (!current.has(k)) {
      owned = await insertClaim(k, id, now);
    }
    if (owned) {
      landing.createdKeys.add(k);
      landing.leadIdByKey.set(k, String(id));
    } else {
      await Lead.deleteOne({ _id: id });
      retry.push(k);
    }
  }
  return retry;
}

/** A dry run: where each email would land, from the registry alone (nothing written). */
export async function previewLanding(keys: string[]): Promise<Landing> {
  const claims = await readClaims(keys);
  const claimed = keys.filter((k) => claims.has(k));
  const { leadOf, targetOf } = await loadClaimedLeads(claimed, claims);
  const landing: Landing = { leadIdByKey: new Map(), createdKeys: new Set() };
  for (const k of keys) {
    const lead = claims.has(k) ? leadOf(claims.get(k)!) : undefined;
    const target = lead && targetOf(lead);
    if (target) landing.leadIdByKey.set(k, String(target._id));
    else landing.createdKeys.add(k);
  }
  return landing;
}
