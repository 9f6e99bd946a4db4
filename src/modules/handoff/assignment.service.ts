import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { Account, Contact, Opportunity } from '../crm/index.js';
import { recordEvent } from '../leads/index.js';
import { Lead } from '../leads/index.js';
import { chooseRep, type RepForAssignment } from './assignment.logic.js';
import { claimOnce, readClaim } from './claims.js';
import { Handoff, type HandoffDoc } from './handoff.model.js';
import { Rep } from './rep.model.js';

/** Open (pending) handoffs per rep, for the reps that have a capacity. */
async function openCounts(reps: RepForAssignment[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  await Promise.all(
    reps
      .filter((r) => typeof r.capacity === 'number')
      .map(async (r) =>
        counts.set(r._id, await Handoff.countDocuments({ ownerId: r._id, status: 'pending' })),
      ),
  );
  return counts;
}

/** The active owner of the handoff's account, if it has one: an account keeps its owner. */
async function accountOwner(h: Pick<HandoffDoc, 'accountId'>): Promise<string | undefined> {
  if (!h.accountId) return undefined;
  const acc = await Account.findById(h.accountId, { ownerId: 1 }).lean();
  if (!acc?.ownerId) return undefined;
  return (await Rep.exists({ _id: acc.ownerId, active: true })) ? acc.ownerId : undefined;
}

/**
 * Chooses the owner of a handoff's `n`-th assignment, once: the account's owner for the first one,
 * else round-robin (see chooseRep). The choice is claimed (`assign:<handoffId>:<n>`), so concurrent
 * workers agree on it. Undefined when no rep can take it (it waits for one).
 */
export async function chooseOwner(
  h: HandoffDoc,
  n: number,
  exclude: ReadonlySet<string> = new Set(),
): Promise<string | undefined> {
  const claimId = `assign:${h._id}:${n}`;
  const held = await readClaim<{ ownerId: string }>(claimId);
  if (held) return held.ownerId;
  let ownerId = n === 1 ? await accountOwner(h) : undefined;
  if (!ownerId) {
    const reps = (await Rep.find({ active: true }).lean()) as unknown as RepForAssignment[];
    const lead = await Lead.findById(h.leadId).lean();
    ownerId = chooseRep(reps, (lead ?? {}) as Record<string, unknown>, await openCounts(reps), exclude);
  }
  if (!ownerId) return undefined;
  const claimed = await claimOnce(claimId, { ownerId });
  if (claimed.won) await Rep.updateOne({ _id: ownerId }, { $set: { lastAssignedAt: clock.now() } });
  return claimed.value.ownerId;
}

/**
 * Makes `ownerId` the handoff's owner: the lead, the opportunity, the account and contact when they
 * have no owner yet, the lead's timeline, and then the handoff (and its SLA clock).
 */
export async function applyOwner(
  h: HandoffDoc,
  ownerId: string,
  n: number,
  detail: string,
): Promise<HandoffDoc> {
  const now = clock.now();
  const slaDueAt = h.slaHours ? new Date(now.getTime() + h.slaHours * 3_600_000) : null;
  const writes: Promise<unknown>[] = [Lead.updateOne({ _id: h.leadId }, { $set: { ownerId } })];
  if (h.opportunityId) writes.push(Opportunity.updateOne({ _id: h.opportunityId }, { $set: { ownerId } }));
  if (h.accountId) writes.push(Account.updateOne({ _id: h.accountId, ownerId: null }, { $set: { ownerId } }));
  if (h.contactId) writes.push(Contact.updateOne({ _id: h.contactId, ownerId: null }, { $set: { ownerId } }));
  writes.push(
    recordEvent({
      leadId: new Types.ObjectId(String(h.leadId)),
      type: n === 1 ? 'handoff_assigned' : 'handoff_reassigned',
      occurredAt: now,
      key: `handoff_assigned:${h._id}:${n}`,
      properties: { handoffId: h._id, ownerId, previousOwnerId: h.ownerId ?? null, detail },
    }),
  );
  await Promise.all(writes);
  // the handoff's owner last: a retry skips assignment once it is set, so by then the lead, the
  // opportunity, the account, the contact and the timeline must already have it
  await Handoff.updateOne(
    { _id: h._id },
    {
      $set: { ownerId, slaDueAt, step: 'assigned' },
      $addToSet: { owners: ownerId },
      $push: { history: { at: now, action: n === 1 ? 'assigned' : 'reassigned', detail, by: ownerId } },
    },
  );
  return { ...h, ownerId, slaDueAt, owners: [...new Set([...(h.owners ?? []), ownerId])] } as HandoffDoc;
}
