import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { badRequest, conflict, notFound } from '../../lib/errors.js';
import { Opportunity, toOpportunityJson, type OpportunityDoc } from '../crm/index.js';
import { recordEvents, type NewEvent } from '../leads/index.js';
import { Lead, getLead } from '../leads/index.js';
import { enrollLead, getSequence } from '../sequences/index.js';
import { claimOnce } from './claims.js';
import { Handoff, type HandoffDoc } from './handoff.model.js';
import { toHandoffJson } from './handoff.service.js';
import { emitHandoffEvent } from './handoff.webhooks.js';

async function findHandoff(id: string): Promise<HandoffDoc> {
  const h = typeof id === 'string' && id.length <= 64 ? await Handoff.findById(id).lean<HandoffDoc>() : null;
  if (!h) throw notFound('handoff');
  return h;
}

async function reread(id: string) {
  return toHandoffJson((await Handoff.findById(id).lean<HandoffDoc>())!);
}

/** The owner (or a teammate) takes the lead: the handoff is `accepted`, on the lead's timeline. */
export async function acceptHandoff(id: string, by: string) {
  const h = await findHandoff(id);
  if (h.status !== 'pending') throw conflict(`the handoff is ${h.status}, not pending`);
  if (!(await claimOnce(`decision:${id}`, { status: 'accepted', by })).won)
    throw conflict('the handoff was already decided');
  const now = clock.now();
  await Handoff.updateOne(
    { _id: id },
    {
      $set: { status: 'accepted', decidedAt: now, decidedBy: by },
      $push: { history: { at: now, action: 'accepted', by } },
    },
  );
  await recordEvents([
    {
      leadId: h.leadId,
      type: 'handoff_accepted',
      occurredAt: now,
      key: `handoff_accepted:${id}`,
      properties: { handoffId: id, by },
    },
  ]);
  const json = await reread(id);
  await emitHandoffEvent('handoff.accepted', `handoff.accepted:${id}`, json);
  return json;
}

/** The opportunity of a rejected handoff: closed lost with the reason (it can still change stage). */
async function loseOpportunity(h: HandoffDoc, reason: string, by: string) {
  if (!h.opportunityId) return;
  const opp = await Opportunity.findById(h.opportunityId).lean<OpportunityDoc>();
  if (!opp || opp.stage === 'closed_lost') return;
  const now = clock.now();
  await Opportunity.updateOne(
    { _id: opp._id },
    {
      $set: { stage: 'closed_lost', lostReason: reason, closedAt: now },
      $push: { history: { at: now, from: opp.stage, to: 'closed_lost', reason, by } },
    },
  );
  const updated = await Opportunity.findById(opp._id).lean<OpportunityDoc>();
  await emitHandoffEvent(
    'opportunity.stage_changed',
    `opportunity.stage_changed:${String(opp._id)}:${now.getTime()}`,
    {
      ...toOpportunityJson(updated!),
      from: opp.stage,
    },
  );
}

/**
 * Sales turns the lead down: the handoff is `rejected` with the reason; the lead goes back to
 * nurture (stage `lead`, status `nurturing`, `recycledAt`, score kept), optionally into the
 * `recycleTo` sequence; the account and contact stay and the opportunity becomes `closed_lost`.
 * Answers after all of that is written, so a read right after sees it.
 */
export async function rejectHandoff(id: string, body: { reason: string; recycleTo?: string }, by: string) {
  const h = await findHandoff(id);
  if (h.status !== 'pending' && h.status !== 'accepted') throw conflict(`the handoff is ${h.status}`);
  if (body.recycleTo) {
    await getSequence(body.recycleTo).catch(() => {
      throw badRequest(`sequence ${body.recycleTo} does not exist`, [
        { path: 'recycleTo', message: 'unknown sequence' },
      ]);
    });
  }
  if (!(await claimOnce(`decision:${id}:rejected`, { by, reason: body.reason })).won)
    throw conflict('the handoff was already rejected');
  const now = clock.now();
  await Handoff.updateOne(
    { _id: id },
    {
      $set: {
        status: 'rejected',
        reason: body.reason,
        recycleTo: body.recycleTo ?? null,
        decidedAt: now,
        decidedBy: by,
      },
      $push: { history: { at: now, action: 'rejected', detail: body.reason, by } },
    },
  );
  const lead = await Lead.findById(h.leadId, { lifecycleStage: 1, status: 1 }).lean();
  await Lead.updateOne(
    { _id: h.leadId },
    { $set: { lifecycleStage: 'lead', status: 'nurturing', recycledAt: now } },
  );
  const events: NewEvent[] = [
    {
      leadId: h.leadId,
      type: 'handoff_rejected',
      occurredAt: now,
      key: `handoff_rejected:${id}`,
      properties: { handoffId: id, reason: body.reason, recycleTo: body.recycleTo ?? null, by },
    },
  ];
  if (lead && lead.lifecycleStage !== 'lead')
    events.push({
      leadId: h.leadId,
      type: 'stage_change',
      occurredAt: now,
      key: `stage_change:rejected:${id}`,
      properties: { from: lead.lifecycleStage, to: 'lead', reason: 'handoff rejected' },
    });
  await recordEvents(events);
  await loseOpportunity(h, body.reason, by);
  if (body.recycleTo) {
    await enrollLead(body.recycleTo, String(h.leadId)).catch((err: unknown) =>
      recordEvents([
        {
          leadId: new Types.ObjectId(String(h.leadId)),
          type: 'recycle_failed',
          occurredAt: now,
          key: `recycle_failed:${id}`,
          properties: {
            sequenceKey: body.recycleTo,
            reason: err instanceof Error ? err.message : String(err),
          },
        },
      ]),
    );
  }
  const json = await reread(id);
  await emitHandoffEvent('handoff.rejected', `handoff.rejected:${id}`, {
    ...json,
    lead: await getLead(String(h.leadId)),
  });
  return json;
}
