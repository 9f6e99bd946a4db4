import { Types, isValidObjectId } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { badRequest, notFound } from '../../lib/errors.js';
import {
  Account,
  Opportunity,
  toOpportunityJson,
  type OpportunityDoc,
  type OpportunityStage,
} from '../crm/index.js';
import { recordEvents, type NewEvent } from '../leads/index.js';
import { Lead } from '../leads/index.js';
import { emitHandoffEvent } from './handoff.webhooks.js';

export type OpportunityListQuery = {
  ownerId?: string;
  stage?: string;
  accountId?: string;
  limit: number;
  cursor?: string;
};
export type OpportunityPatch = {
  stage?: OpportunityStage;
  amount?: number | null;
  closeDate?: Date | null;
  reason?: string;
};

/** Newest first; cursor = the last id of the previous page. */
export async function listOpportunities(q: OpportunityListQuery) {
  const filter: Record<string, unknown> = {};
  if (q.ownerId) filter.ownerId = q.ownerId;
  if (q.stage) filter.stage = q.stage;
  if (q.accountId) filter.accountId = new Types.ObjectId(q.accountId);
  if (q.cursor) filter._id = { $lt: new Types.ObjectId(q.cursor) };
  const docs = await Opportunity.find(filter)
    .sort({ _id: -1 })
    .limit(q.limit + 1)
    .lean<OpportunityDoc[]>();
  const items = docs.slice(0, q.limit);
  return {
    items: items.map(toOpportunityJson),
    nextCursor: docs.length > q.limit ? String(items[items.length - 1]!._id) : null,
  };
}

async function findOpportunity(id: string): Promise<OpportunityDoc> {
  const o = isValidObjectId(id) ? await Opportunity.findById(id).lean<OpportunityDoc>() : null;
  if (!o) throw notFound('opportunity');
  return o;
}

export async function getOpportunity(id: string) {
  return toOpportunityJson(await findOpportunity(id));
}

/** Won: the account becomes a customer and the lead reaches stage `customer`. */
async function afterWon(o: OpportunityDoc, now: Date, events: NewEvent[]) {
  await Account.updateOne({ _id: o.accountId }, { $set: { type: 'customer' } });
  if (!o.leadId) return;
  const lead = await Lead.findById(o.leadId, { lifecycleStage: 1, stageDates: 1 }).lean();
  if (!lead || lead.lifecycleStage === 'customer') return;
  const set: Record<string, unknown> = { lifecycleStage: 'customer' };
  if (!(lead.stageDates as Record<string, unknown> | null)?.customer) set['stageDates.customer'] = now;
  await Lead.updateOne({ _id: o.leadId }, { $set: set });
  events.push({
    leadId: o.leadId,
    type: 'stage_change',
    occurredAt: now,
    properties: { from: lead.lifecycleStage, to: 'customer', opportunityId: String(o._id) },
  });
}

/**
 * PATCH an opportunity: stage, amount, close date. `closed_won` makes the account a customer and
 * the lead a `customer`; `closed_lost` records the reason; a closed one may be reopened. Answers
 * after the opportunity, account and lead are written.
 */
export async function patchOpportunity(id: string, patch: OpportunityPatch, by: string) {
  const o = await findOpportunity(id);
  const now = clock.now();
  const set: Record<string, unknown> = {};
  const update: Record<string, unknown> = { $set: set };
  if (patch.amount !== undefined) set.amount = patch.amount;
  if (patch.closeDate !== undefined) set.closeDate = patch.closeDate;
  if (patch.reason !== undefined && patch.stage !== 'closed_lost' && o.stage !== 'closed_lost')
    throw badRequest('reason goes with stage closed_lost', [
      { path: 'reason', message: 'only for closed_lost' },
    ]);
  const events: NewEvent[] = [];
  const changed = patch.stage !== undefined && patch.stage !== o.stage;
  if (patch.stage === 'closed_lost' || (o.stage === 'closed_lost' && patch.reason !== undefined))
    set.lostReason = patch.reason ?? o.lostReason ?? null;
  if (changed) {
    set.stage = patch.stage;
    set.closedAt = patch.stage!.startsWith('closed_') ? now : null;
    if (patch.stage !== 'closed_lost') set.lostReason = null;
    update.$push = { history: { at: now, from: o.stage, to: patch.stage, reason: patch.reason ?? null, by } };
    if (o.leadId)
      events.push({
        leadId: o.leadId,
        type: 'opportunity_stage_change',
        occurredAt: now,
        properties: { opportunityId: id, from: o.stage, to: patch.stage, reason: patch.reason ?? null, by },
      });
  }
  await Opportunity.updateOne({ _id: o._id }, update);
  if (changed && patch.stage === 'closed_won') await afterWon(o, now, events);
  await recordEvents(events);
  const json = toOpportunityJson((await Opportunity.findById(o._id).lean<OpportunityDoc>())!);
  if (changed)
    await emitHandoffEvent('opportunity.stage_changed', `opportunity.stage_changed:${id}:${now.getTime()}`, {
      ...json,
      from: o.stage,
    });
  return json;
}
