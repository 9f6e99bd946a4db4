import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { forEachLimit } from '../../lib/concurrency.js';
import type { Logger } from '../../lib/logger.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import { enqueue } from '../../queues/index.js';
import { recordEvents, type NewEvent } from '../events/index.js';
import { Lead, stageDatePaths, type LeadDoc } from '../leads/index.js';
import type { AgreementDoc } from './agreement.model.js';
import { currentAgreement } from './agreement.service.js';
import {
  HandoffRequest,
  handoffJobId,
  handoffRequestId,
  type HandoffRequestDoc,
} from './handoff-request.model.js';
import { bantParts, evaluateCriteria, isLaterStage } from './qualification.logic.js';
import { engagedSince, topScoreReasons } from './engagement.js';

export type EvaluationOutcome =
  | { outcome: 'missing' | 'no_agreement' | 'already_qualified' | 'unqualified' | 'awaiting_engagement' }
  | { outcome: 'unchanged' | 'mql'; missing: string[] }
  | { outcome: 'qualified' | 'repaired'; requestId: string; created?: boolean };

type RequestDoc = HandoffRequestDoc & { _id: string };

/** Leads of one batch evaluated at once (the writes of those that qualify run side by side). */
const evaluationConcurrency = 8;

/** The lead's latest qualification as stored on the lead (`lead.qualification`). */
type LeadQualification = { cycle: number; agreementVersion: number; qualifiedAt: Date; requestId: string };

function qualificationOf(lead: LeadDoc): LeadQualification | null {
  return (lead.qualification as LeadQualification | null) ?? null;
}

const laterThanMql = new Set(['sql', 'opportunity', 'customer']);

/**
 * Evaluates the agreement in force for one lead (the `qualification` job): after a score, BANT,
 * grade or agreement change. Reaching the threshold makes the lead an MQL; meeting the whole
 * agreement qualifies it and produces exactly one HandoffRequest (`<leadId>:<cycle>`, an
 * `_id`-keyed insert) and its `handoff` job. Safe to run any number of times, concurrently.
 */
export async function evaluateLead(leadId: string, log?: Logger): Promise<EvaluationOutcome> {
  return (await evaluateLeads([leadId], log)).get(leadId) ?? { outcome: 'missing' };
}

/**
 * evaluateLead for a batch (a scoring round's changed leads, a sweep chunk): the leads, their
 * next-cycle HandoffRequests and the agreement are read once for the batch, so a lead whose score
 * moved but that is nowhere near the threshold costs no read of its own. Leads that qualify, become
 * MQLs or need repair are then written one at a time, exactly as evaluateLead does.
 */
export async function evaluateLeads(
  leadIds: string[],
  log?: Logger,
): Promise<Map<string, EvaluationOutcome>> {
  const ids = [...new Set(leadIds)].filter((id) => Types.ObjectId.isValid(id));
  const out = new Map<string, EvaluationOutcome>(leadIds.map((id) => [id, { outcome: 'missing' }]));
  if (ids.length === 0) return out;
  const leads = (await Lead.find({ _id: { $in: ids } }).lean<LeadDoc[]>()).filter((l) => !l.mergedInto);
  const cycleOf = (lead: LeadDoc) => (qualificationOf(lead)?.cycle ?? 0) + 1;
  const [pending, agreement] = await Promise.all([
    leads.length
      ? HandoffRequest.find({
          _id: { $in: leads.map((l) => handoffRequestId(String(l._id), cycleOf(l))) },
        }).lean<RequestDoc[]>()
      : [],
    currentAgreement(),
  ]);
  const pendingById = new Map(pending.map((r) => [r._id, r]));
  // most leads of a batch decide without a write; those that qualify (a burst: all of them) write
  // side by side, as separate per-lead jobs on a worker's concurrency did
  await forEachLimit(leads, evaluationConcurrency, async (lead) => {
    const id = String(lead._id);
    const cycle = cycleOf(lead);
    const pendingRequest = pendingById.get(handoffRequestId(id, cycle)) ?? null;
    out.set(id, await decide(lead, cycle, pendingRequest, agreement, log));
  });
  return out;
}

/** One lead's evaluation, from what evaluateLeads read for it. */
async function decide(
  lead: LeadDoc,
  cycle: number,
  pending: RequestDoc | null,
  agreement: AgreementDoc | null,
  log?: Logger,
): Promise<EvaluationOutcome> {
  const leadId = String(lead._id);
  // a request for the next cycle exists but the lead does not show it: a crash or a lost write
  // (FerretDB's updates are not atomic) left the lead behind its record of truth
  if (pending) {
    await applyQualification(lead, pending);
    return { outcome: 'repaired', requestId: pending._id };
  }
  if (!agreement) return { outcome: 'no_agreement' };
  if (lead.status === 'qualified' || lead.status === 'converted' || laterThanMql.has(lead.lifecycleStage)) {
    return { outcome: 'already_qualified' };
  }
  if (lead.status === 'unqualified') return { outcome: 'unqualified' };
  if (lead.recycledAt && !(await engagedSince(lead, lead.recycledAt))) {
    return { outcome: 'awaiting_engagement' };
  }
  const ev = evaluateCriteria(lead, agreement);
  if (ev.qualified) {
    const r = await qualifyLead(lead, agreement, cycle);
    log?.info({ leadId, requestId: r.requestId, created: r.created }, 'lead qualified');
    return { outcome: 'qualified', ...r };
  }
  if (ev.mql && isLaterStage(lead.lifecycleStage, 'mql')) {
    await markMql(lead, agreement, cycle);
    return { outcome: 'mql', missing: ev.missing };
  }
  return { outcome: 'unchanged', missing: ev.missing };
}

/**
 * Inserts the HandoffRequest of this cycle (the exactly-once guarantee: of racing evaluations one
 * insert wins, the others find it), then brings the lead in line with that record.
 */
async function qualifyLead(
  lead: LeadDoc,
  agreement: AgreementDoc,
  cycle: number,
): Promise<{ requestId: string; created: boolean }> {
  const leadId = String(lead._id);
  const requestId = handoffRequestId(leadId, cycle);
  const bant: Record<string, unknown> = {};
  for (const p of bantParts) bant[p] = lead.bant?.[p] ?? null;
  const doc = {
    _id: requestId,
    leadId: lead._id,
    cycle,
    agreementVersion: agreement._id,
    qualifiedAt: clock.now(),
    reasons: {
      score: lead.score ?? 0,
      topReasons: await topScoreReasons(leadId),
      bant,
      grade: lead.grade ?? null,
    },
    processedAt: null,
  };
  let created = true;
  let request: RequestDoc | null = doc as unknown as RequestDoc;
  try {
    await HandoffRequest.create(doc);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    created = false;
    request = await HandoffRequest.findById(requestId).lean<RequestDoc>();
    if (!request)
      throw new Error(`handoff request ${requestId} refused our insert but cannot be read`, { cause: err });
  }
  await applyQualification(lead, request);
  return { requestId, created };
}

/**
 * Makes the lead show a HandoffRequest: `qualification`, and — while handoff has not taken the
 * request yet — status `qualified`, stage `sql`; then the timeline, the `handoff` job and the
 * `stage-reached` job. Every step is idempotent (keyed events, deterministic job ids), so a
 * repeat after a crash finishes what was left.
 */
export async function applyQualification(lead: LeadDoc, request: RequestDoc): Promise<void> {
  const leadId = String(lead._id);
  const qualification: LeadQualification = {
    cycle: request.cycle,
    agreementVersion: request.agreementVersion,
    qualifiedAt: request.qualifiedAt,
    requestId: request._id,
  };
  const set: Record<string, unknown> = { qualification };
  const open = request.processedAt == null && lead.status !== 'converted';
  const dates = (lead.stageDates ?? {}) as Record<string, unknown>;
  const events: NewEvent[] = [];
  if (open) {
    set.status = 'qualified';
    Object.assign(set, stageDatePaths('sql', dates, request.qualifiedAt));
    if (isLaterStage(lead.lifecycleStage, 'sql')) {
      set.lifecycleStage = 'sql';
      events.push({
        leadId: lead._id,
        type: 'stage_change',
        occurredAt: request.qualifiedAt,
        key: `stage:${leadId}:${request.cycle}:sql`,
        properties: { from: lead.lifecycleStage, to: 'sql', agreementVersion: request.agreementVersion },
      });
    }
  }
  events.push({
    leadId: lead._id,
    type: 'qualified',
    occurredAt: request.qualifiedAt,
    key: `qualified:${request._id}`,
    properties: {
      requestId: request._id,
      cycle: request.cycle,
      agreementVersion: request.agreementVersion,
      reasons: request.reasons,
    },
  });
  // the keyed events before the lead: once the lead shows its qualification the reconciler no
  // longer repairs it, so what it shows must already be on the timeline
  await recordEvents(events);
  await Lead.updateOne({ _id: lead._id }, { $set: set });
  if (!open) return;
  await enqueue('handoff', { requestId: request._id }, { jobId: handoffJobId(request._id) });
  await enqueue('stage-reached', { leadId, stage: 'sql' }, { jobId: `stage-${leadId}-${request.cycle}-sql` });
}

/** Score ≥ threshold but the agreement not (yet) met: the lead becomes a marketing-qualified lead. */
async function markMql(lead: LeadDoc, agreement: AgreementDoc, cycle: number): Promise<void> {
  const leadId = String(lead._id);
  const now = clock.now();
  const dates = (lead.stageDates ?? {}) as Record<string, unknown>;
  await recordEvents([
    {
      leadId: lead._id,
      type: 'stage_change',
      occurredAt: now,
      key: `stage:${leadId}:${cycle}:mql`,
      properties: {
        from: lead.lifecycleStage,
        to: 'mql',
        agreementVersion: agreement._id,
        score: lead.score ?? 0,
        threshold: agreement.threshold,
      },
    },
  ]);
  await enqueue('stage-reached', { leadId, stage: 'mql' }, { jobId: `stage-${leadId}-${cycle}-mql` });
  // the stage last: a lead that reads `mql` is not marked again, so its timeline entry and its
  // stage-triggered enrollment must exist by then (both keyed: a repeat adds nothing)
  await Lead.updateOne(
    {
      _id: lead._id,
      lifecycleStage: { $in: ['subscriber', 'lead'] },
      status: { $nin: ['qualified', 'converted'] },
    },
    { $set: { lifecycleStage: 'mql', ...stageDatePaths('mql', dates, now) } },
  );
}

/** Lead ids by `_id` (cheap on every server): the reconciler's repair read. */
export async function leadsByIds(ids: Types.ObjectId[]): Promise<Map<string, LeadDoc>> {
  const docs = ids.length ? await Lead.find({ _id: { $in: ids } }).lean<LeadDoc[]>() : [];
  return new Map(docs.map((d) => [String(d._id), d]));
}
