import mongoose, { Types, isValidObjectId } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { badRequest, conflict, forbidden, notFound } from '../../lib/errors.js';
import { enqueue } from '../../queues/index.js';
import { Account, Contact } from '../crm/index.js';
import { suppressEmail } from '../suppression/index.js';
import { LeadEvent } from './lead-event.model.js';
import { recordEvents, type NewEvent } from './lead-events.service.js';
import { forgetPendingCaptures } from './capture-reconcile.service.js';
import { claimEmailFor, releaseClaim, releaseClaims } from './email-registry.service.js';
import { stageDatePaths } from './stages.js';
import { Lead, type LeadDoc } from './lead.model.js';
import type { LeadPatch } from './lead.schemas.js';
import { salesPatchFields } from './lead.schemas.js';
import { countryCode, emailKey, phoneE164 } from './normalize.js';
import { fillEmptyFields, normalizeLeadInput } from './normalize-input.js';
import { duplicateReasons, escapeRegex, furthestStage, isForwardStage, toLeadJson } from './lead.view.js';

/**
 * Collections of other areas whose documents belong to one lead by `leadId` (emails, enrollments,
 * a score ledger...): a merge moves them to the survivor and an erasure deletes them. Each area
 * registers its collections when its model is defined (so `leads` imports none of their models);
 * a collection that does not exist yet is skipped.
 */
const leadOwnedCollections = new Set<string>();
export function registerLeadOwnedCollection(name: string): void {
  leadOwnedCollections.add(name);
}

async function existingLeadOwnedCollections(): Promise<string[]> {
  const db = mongoose.connection.db;
  if (!db) return [];
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  return names.filter((n) => leadOwnedCollections.has(n));
}

async function findLeadDoc(id: string): Promise<LeadDoc> {
  const lead = isValidObjectId(id) ? await Lead.findById(id).lean<LeadDoc>() : null;
  if (!lead) throw notFound('lead');
  return lead;
}

/**
 * The live lead for an id: a tombstone (merged lead) answers its survivor, so old links and ids
 * keep working.
 */
export async function resolveLead(id: string): Promise<LeadDoc> {
  const lead = await findLeadDoc(id);
  if (!lead.mergedInto) return lead;
  const survivor = await Lead.findById(lead.mergedInto).lean<LeadDoc>();
  if (!survivor) throw notFound('lead');
  return survivor;
}

export async function getLead(id: string) {
  return toLeadJson(await resolveLead(id));
}

export type LeadListQuery = {
  limit: number;
  cursor?: string;
  status?: string;
  stage?: string;
  email?: string;
  ownerId?: string;
  q?: string;
  source?: string;
  grade?: string;
  minScore?: number;
  maxScore?: number;
};

/** Newest first, cursor = the last id of the previous page. Tombstones are not listed. */
export async function listLeads(query: LeadListQuery) {
  const filter: Record<string, unknown> = { mergedInto: null };
  if (query.status) filter.status = query.status;
  if (query.stage) filter.lifecycleStage = query.stage;
  if (query.email) filter.emailKey = emailKey(query.email);
  if (query.ownerId) filter.ownerId = query.ownerId;
  if (query.source) filter.source = query.source;
  if (query.grade) filter.grade = query.grade;
  if (query.minScore !== undefined || query.maxScore !== undefined) {
    filter.score = {
      ...(query.minScore !== undefined ? { $gte: query.minScore } : {}),
      ...(query.maxScore !== undefined ? { $lte: query.maxScore } : {}),
    };
  }
  if (query.q?.trim()) {
    // "the start of" (API.md): anchored, so an index on the field can serve it
    const start = escapeRegex(query.q.trim());
    filter.$or = [
      { emailKey: new RegExp(`^${escapeRegex(query.q.trim().toLowerCase())}`) },
      { firstName: new RegExp(`^${start}`, 'i') },
      { lastName: new RegExp(`^${start}`, 'i') },
      { company: new RegExp(`^${start}`, 'i') },
    ];
  }
  if (query.cursor) filter._id = { $lt: new Types.ObjectId(query.cursor) };
  const docs = await Lead.find(filter)
    .sort({ _id: -1 })
    .limit(query.limit + 1)
    .lean<LeadDoc[]>();
  const page = docs.slice(0, query.limit);
  return {
    items: page.map(toLeadJson),
    nextCursor: docs.length > query.limit ? String(page[page.length - 1]!._id) : null,
  };
}

/**
 * PATCH: sales may change status, BANT and owner only; lifecycleStage only moves forward. Status
 * and stage changes go to the timeline.
 */
export async function patchLead(id: string, patch: LeadPatch, role: string) {
  if (role === 'sales') {
    const other = Object.keys(patch).filter((k) => !salesPatchFields.has(k));
    if (other.length)
      throw forbidden(`the sales role may only change status, bant and ownerId (not ${other.join(', ')})`);
  }
  const lead = await resolveLead(id);
  const now = clock.now();
  const set: Record<string, unknown> = {};
  const events: NewEvent[] = [];
  for (const f of ['firstName', 'lastName', 'company', 'title', 'source'] as const) {
    if (patch[f] !== undefined) set[f] = normalizeLeadInput({ email: lead.email, [f]: patch[f] })[f];
  }
  const country = patch.country !== undefined ? countryCode(patch.country) : lead.country;
  if (patch.country !== undefined) set.country = country;
  if (patch.phone !== undefined) set.phone = phoneE164(patch.phone, country);
  for (const [k, v] of Object.entries(patch.bant ?? {})) set[`bant.${k}`] = v;
  if (patch.bant && Object.keys(patch.bant).length) {
    events.push({ leadId: lead._id, type: 'bant_change', occurredAt: now, properties: { bant: patch.bant } });
  }
  for (const [k, v] of Object.entries(patch.attributes ?? {})) set[`attributes.${k}`] = v;
  if (patch.ownerId !== undefined) set.ownerId = patch.ownerId;
  if (patch.status && patch.status !== lead.status) {
    set.status = patch.status;
    events.push({
      leadId: lead._id,
      type: 'status_change',
      occurredAt: now,
      properties: { from: lead.status, to: patch.status },
    });
  }
  if (patch.lifecycleStage && patch.lifecycleStage !== lead.lifecycleStage) {
    if (!isForwardStage(lead.lifecycleStage, patch.lifecycleStage)) {
      throw badRequest(`lifecycleStage only moves forward (from ${lead.lifecycleStage})`, [
        {
          path: 'lifecycleStage',
          message: `cannot move back from ${lead.lifecycleStage} to ${patch.lifecycleStage}`,
        },
      ]);
    }
    set.lifecycleStage = patch.lifecycleStage;
    Object.assign(set, stageDatePaths(patch.lifecycleStage, lead.stageDates as Record<string, unknown>, now));
    events.push({
      leadId: lead._id,
      type: 'stage_change',
      occurredAt: now,
      properties: { from: lead.lifecycleStage, to: patch.lifecycleStage },
    });
  }
  const moved = patch.email !== undefined ? await claimNewEmail(lead, patch.email, set, events, now) : null;
  let updated: LeadDoc | null;
  try {
    updated = await Lead.findByIdAndUpdate(
      lead._id,
      { $set: set },
      { returnDocument: 'after' },
    ).lean<LeadDoc>();
  } catch (err) {
    if (moved) await releaseClaim(moved.to, lead._id).catch(() => undefined);
    throw err;
  }
  if (!updated) throw notFound('lead');
  // the old address is free only once the lead no longer has it
  if (moved) await releaseClaim(moved.from, lead._id);
  await recordEvents(events);
  // a BANT answer can complete the qualification agreement: the qualification area re-evaluates
  if (patch.bant && Object.keys(patch.bant).length)
    await enqueue('qualification', { leadId: String(lead._id) });
  return toLeadJson(updated);
}

/**
 * PATCH of the email: the new address is claimed for this lead first (409 when another lead has
 * it); the caller releases the old one after writing the lead. A crash in between leaves a claim
 * that disagrees with its lead, which capture frees after a minute.
 */
async function claimNewEmail(
  lead: LeadDoc,
  email: string,
  set: Record<string, unknown>,
  events: NewEvent[],
  now: Date,
): Promise<{ from: string; to: string } | null> {
  const n = normalizeLeadInput({ email });
  set.email = n.email;
  if (n.emailKey === lead.emailKey) return null;
  await claimEmailFor(lead._id, n.emailKey);
  set.emailKey = n.emailKey;
  events.push({
    leadId: lead._id,
    type: 'email_change',
    occurredAt: now,
    properties: { from: lead.email, to: n.email },
  });
  return { from: lead.emailKey, to: n.emailKey };
}

/**
 * Erases a person: the lead (and tombstones merged into it), its events, emails and every
 * lead-owned collection's documents. Keeps only a suppression hash per address, so an unsubscribe
 * is still honoured; an existing (stronger) suppression reason is kept.
 */
export async function deleteLead(id: string): Promise<void> {
  // an old (merged) id erases the person it now resolves to
  const lead = await resolveLead(id);
  const tombstones = await Lead.find({ mergedInto: lead._id }, { email: 1, emailKey: 1 }).lean();
  const all = [lead, ...tombstones];
  const ids = all.map((l) => l._id);
  // Suppress first: if anything below fails, the person is still never mailed again.
  for (const l of all) await suppressEmail(l.email, 'erased');
  const db = mongoose.connection.db!;
  await Promise.all([
    LeadEvent.deleteMany({ leadId: { $in: ids } }),
    ...(await existingLeadOwnedCollections()).map((c) =>
      db.collection(c).deleteMany({ leadId: { $in: ids } }),
    ),
  ]);
  await Lead.deleteMany({ _id: { $in: ids } });
  // the addresses are free again only once their leads are gone
  await Promise.all([
    releaseClaims(
      all.map((l) => l.emailKey),
      ids,
    ),
    forgetPendingCaptures(ids.map(String)),
  ]);
}

/** Other leads and contacts matching by email, by name + company, or by phone, with the reasons. */
export async function findDuplicates(id: string) {
  const lead = await resolveLead(id);
  const exact = (v: string) => new RegExp(`^${escapeRegex(v)}$`, 'i');
  const leadOr: Record<string, unknown>[] = [];
  const contactOr: Record<string, unknown>[] = [{ emailKey: lead.emailKey }];
  if (lead.phone) {
    leadOr.push({ phone: lead.phone });
    contactOr.push({ phone: lead.phone });
  }
  if (lead.lastName && lead.firstName && lead.company) {
    leadOr.push({
      lastName: exact(lead.lastName),
      firstName: exact(lead.firstName),
      company: exact(lead.company),
    });
    contactOr.push({ lastName: exact(lead.lastName), firstName: exact(lead.firstName) });
  }
  const [leads, contacts] = await Promise.all([
    leadOr.length
      ? Lead.find({ $or: leadOr, _id: { $ne: lead._id }, mergedInto: null })
          .limit(100)
          .lean<LeadDoc[]>()
      : Promise.resolve([] as LeadDoc[]),
    Contact.find({ $or: contactOr }).limit(100).lean(),
  ]);
  const accountIds = contacts.map((c) => c.accountId).filter((a): a is Types.ObjectId => !!a);
  const accounts = accountIds.length
    ? await Account.find({ _id: { $in: accountIds } }, { name: 1 }).lean()
    : [];
  const companyOf = new Map(accounts.map((a) => [String(a._id), a.name]));
  const items: { kind: 'lead' | 'contact'; id: string; reasons: string[] }[] = [];
  for (const l of leads) {
    const reasons = duplicateReasons(lead, l);
    if (reasons.length) items.push({ kind: 'lead', id: String(l._id), reasons });
  }
  for (const c of contacts) {
    const company = c.accountId ? companyOf.get(String(c.accountId)) : undefined;
    const reasons = duplicateReasons(lead, { ...c, company });
    if (reasons.length) items.push({ kind: 'contact', id: String(c._id), reasons });
  }
  return { items };
}

/**
 * Merges leads into the survivor `id`: their events, emails, lead-owned documents (enrollments,
 * ledger) and score move to it, its empty fields are filled from them (in the order given), and
 * each merged lead is left as a tombstone pointing at the survivor.
 */
export async function mergeLeads(id: string, ids: string[]) {
  const survivor = await resolveLead(id);
  const unique = [...new Set(ids)];
  if (unique.includes(String(survivor._id)) || unique.includes(id)) {
    throw badRequest('a lead cannot be merged into itself', [
      { path: 'ids', message: 'must not contain the survivor' },
    ]);
  }
  const merged = await Lead.find({ _id: { $in: unique.map((i) => new Types.ObjectId(i)) } }).lean<
    LeadDoc[]
  >();
  const missing = unique.filter((i) => !merged.some((m) => String(m._id) === i));
  if (missing.length) throw notFound(`lead ${missing.join(', ')}`);
  const already = merged.filter((m) => m.mergedInto);
  if (already.length) throw conflict(`already merged: ${already.map((m) => String(m._id)).join(', ')}`);
  const ordered = unique.map((i) => merged.find((m) => String(m._id) === i)!);

  const now = clock.now();
  const fills: Record<string, unknown> = {};
  let view: LeadDoc = survivor;
  for (const m of ordered) {
    const f = fillEmptyFields(view, normalizeLeadInput({ ...m, email: m.email } as never));
    Object.assign(fills, f);
    view = applyFills(view, f);
  }
  const mergedIds = ordered.map((m) => m._id);
  const db = mongoose.connection.db!;
  // History first, tombstones last: a crash in between leaves leads that can be merged again.
  await Promise.all([
    LeadEvent.updateMany({ leadId: { $in: mergedIds } }, { $set: { leadId: survivor._id } }),
    ...(await existingLeadOwnedCollections()).map((c) =>
      db.collection(c).updateMany({ leadId: { $in: mergedIds } }, { $set: { leadId: survivor._id } }),
    ),
  ]);
  const stage = furthestStage([survivor.lifecycleStage, ...ordered.map((m) => m.lifecycleStage)]);
  const scoreSum = ordered.reduce((s, m) => s + (m.score ?? 0), 0);
  await Lead.updateOne(
    { _id: survivor._id },
    { $set: { ...fills, lifecycleStage: stage, lastActivityAt: now }, $inc: { score: scoreSum } },
  );
  await Lead.updateMany({ _id: { $in: mergedIds } }, { $set: { mergedInto: survivor._id } });
  // Tombstones of the merged leads now point at the new survivor (one hop always resolves).
  await Lead.updateMany({ mergedInto: { $in: mergedIds } }, { $set: { mergedInto: survivor._id } });
  await recordEvents([
    {
      leadId: survivor._id,
      type: 'merged',
      occurredAt: now,
      properties: { mergedIds: mergedIds.map(String), emails: ordered.map((m) => m.email) },
    },
  ]);
  return getLead(String(survivor._id));
}

function applyFills(doc: LeadDoc, fills: Record<string, unknown>): LeadDoc {
  const out = { ...doc, attributes: { ...((doc.attributes ?? {}) as Record<string, unknown>) } } as LeadDoc;
  for (const [k, v] of Object.entries(fills)) {
    if (k.startsWith('attributes.')) (out.attributes as Record<string, unknown>)[k.slice(11)] = v;
    else (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** Cursor of the timeline: the last item's time and id, so equal times page correctly. */
function encodeCursor(at: Date, id: Types.ObjectId): string {
  return Buffer.from(`${at.getTime()}_${String(id)}`).toString('base64url');
}
function decodeCursor(c: string): { at: Date; id: Types.ObjectId } {
  const m = /^(\d{1,15})_([a-f0-9]{24})$/.exec(Buffer.from(c, 'base64url').toString());
  if (!m)
    throw badRequest('cursor is not valid', [
      { path: 'cursor', message: 'must be a cursor from nextCursor' },
    ]);
  return { at: new Date(Number(m[1])), id: new Types.ObjectId(m[2]) };
}

/** A lead's timeline, newest first: submissions, emails, score and status changes, merges. */
export async function getTimeline(id: string, query: { limit: number; cursor?: string }) {
  const lead = await resolveLead(id);
  const filter: Record<string, unknown> = { leadId: lead._id };
  if (query.cursor) {
    const c = decodeCursor(query.cursor);
    filter.$or = [{ occurredAt: { $lt: c.at } }, { occurredAt: c.at, _id: { $lt: c.id } }];
  }
  const docs = await LeadEvent.find(filter)
    .sort({ occurredAt: -1, _id: -1 })
    .limit(query.limit + 1)
    .lean();
  const page = docs.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((e) => ({
      id: String(e._id),
      at: e.occurredAt,
      kind: e.type,
      properties: e.properties ?? {},
    })),
    nextCursor: docs.length > query.limit && last ? encodeCursor(last.occurredAt, last._id) : null,
  };
}
