import { clock } from '../../lib/clock.js';
import { AppError } from '../../lib/errors.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import { recordEvents } from '../leads/index.js';
import { getLead } from '../leads/index.js';
import { HandoffRequest, takenUpdate, type HandoffRequestDoc } from '../qualification/index.js';
import { agreementTerms } from './agreement.js';
import { applyOwner, chooseOwner } from './assignment.service.js';
import { convertLead } from './conversion.service.js';
import { Handoff, type HandoffDoc } from './handoff.model.js';
import { emitHandoffEvent } from './handoff.webhooks.js';
import { notifyOwner } from './notification.service.js';

export type HandoffRuntime = Pick<Runtime, 'config' | 'mailer' | 'trackingSecret'>;

/** API.md's handoff. */
export function toHandoffJson(h: HandoffDoc) {
  return {
    id: h._id,
    leadId: String(h.leadId),
    cycle: h.cycle,
    ownerId: h.ownerId ?? null,
    accountId: h.accountId ?? null,
    contactId: h.contactId ?? null,
    opportunityId: h.opportunityId ?? null,
    status: h.status,
    qualifiedAt: h.qualifiedAt,
    notifiedAt: h.notifiedAt ?? null,
    notificationStatus: h.notificationStatus,
    slaDueAt: h.slaDueAt ?? null,
    slaStage: h.slaStage ?? 0,
    agreementVersion: h.agreementVersion,
    reasons: h.reasons ?? {},
    reason: h.reason ?? null,
    recycleTo: h.recycleTo ?? null,
    decidedAt: h.decidedAt ?? null,
    decidedBy: h.decidedBy ?? null,
    history: (h.history ?? []).map((e) => ({
      at: e.at,
      action: e.action,
      detail: e.detail ?? null,
      by: e.by ?? null,
    })),
    createdAt: h.createdAt,
    updatedAt: h.updatedAt,
  };
}
export type HandoffJson = ReturnType<typeof toHandoffJson>;

/** Takes a request: inserts its Handoff (`_id` = request id), or finds the one an earlier attempt made. */
async function claimHandoff(req: HandoffRequestDoc & { _id: string }): Promise<HandoffDoc> {
  const terms = await agreementTerms(req.agreementVersion);
  try {
    const created = await Handoff.create({
      _id: req._id,
      leadId: req.leadId,
      cycle: req.cycle,
      qualifiedAt: req.qualifiedAt,
      agreementVersion: req.agreementVersion,
      reasons: req.reasons ?? {},
      slaHours: terms.slaHours,
      history: [{ at: clock.now(), action: 'created', detail: `qualification cycle ${req.cycle}` }],
    });
    return created.toObject() as HandoffDoc;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const found = await Handoff.findById(req._id).lean<HandoffDoc>();
    if (!found) throw err;
    return found;
  }
}

async function convertStep(h: HandoffDoc, log: Logger): Promise<HandoffDoc> {
  if (h.accountId) return h;
  log.info({ handoffId: h._id }, 'handoff: converting');
  const terms = await agreementTerms(h.agreementVersion);
  const conv = await convertLead(String(h.leadId), { requestId: h._id, terms });
  const now = clock.now();
  // the keyed event first: a retry skips this step once the handoff has its account
  await recordEvents([
    {
      leadId: h.leadId,
      type: 'handoff_created',
      occurredAt: now,
      key: `handoff_created:${h._id}`,
      properties: { handoffId: h._id, cycle: h.cycle, agreementVersion: h.agreementVersion, ...conv },
    },
  ]);
  await Handoff.updateOne(
    { _id: h._id },
    {
      $set: { ...conv, step: 'converted' },
      $push: { history: { at: now, action: 'converted', detail: `account ${conv.accountId}` } },
    },
  );
  return { ...h, ...conv };
}

/** Records the notification's outcome on the handoff (`sent` also sets notifiedAt). */
async function recordNotification(h: HandoffDoc, outcome: string, detail: string): Promise<HandoffDoc> {
  if (outcome === 'in_progress') return h;
  const now = clock.now();
  const set: Record<string, unknown> = { notificationStatus: outcome, step: 'notified' };
  if (outcome === 'sent') set.notifiedAt = now;
  // the keyed event first: once the handoff reads `sent`, nothing notifies (or records) again
  await recordEvents([
    {
      leadId: h.leadId,
      type: 'handoff_notified',
      occurredAt: now,
      key: `handoff_notified:${h._id}:${h.notifications ?? 1}`,
      properties: { handoffId: h._id, ownerId: h.ownerId, outcome },
    },
  ]);
  await Handoff.updateOne(
    { _id: h._id, notificationStatus: { $ne: 'sent' } },
    { $set: set, $push: { history: { at: now, action: `notification_${outcome}`, detail, by: h.ownerId } } },
  );
  return { ...h, ...set } as HandoffDoc;
}

/**
 * Moves a handoff as far as it can go: converted, assigned, owner notified. Every step is keyed so
 * that repeating it (a duplicate job, the reconciler, a restart after a crash) adds nothing.
 */
export async function advanceHandoff(
  rt: HandoffRuntime,
  start: HandoffDoc,
  log: Logger,
): Promise<HandoffDoc> {
  let h = await convertStep(start, log);
  if (!h.ownerId && h.status === 'pending') {
    const ownerId = await chooseOwner(h, 1);
    if (!ownerId) {
      if (h.notificationStatus !== 'awaiting_owner')
        await Handoff.updateOne(
          { _id: h._id, ownerId: null },
          { $set: { notificationStatus: 'awaiting_owner' } },
        );
      return { ...h, notificationStatus: 'awaiting_owner' } as HandoffDoc;
    }
    h = await applyOwner(h, ownerId, 1, 'round-robin');
  }
  if (
    h.ownerId &&
    h.status === 'pending' &&
    ['pending', 'sending', 'awaiting_owner'].includes(h.notificationStatus)
  ) {
    const outcome = await notifyOwner(rt, h, h.ownerId, 'new', `notify:${h._id}:1`, log);
    h = await recordNotification({ ...h, notifications: 1 } as HandoffDoc, outcome, h.ownerId);
  }
  await emitCreated(h);
  return h;
}

async function emitCreated(h: HandoffDoc): Promise<void> {
  const data = { ...toHandoffJson(h), leadId: String(h.leadId) };
  await emitHandoffEvent('lead.qualified', `lead.qualified:${h._id}`, {
    ...(await getLead(String(h.leadId))),
    leadId: String(h.leadId),
  });
  await emitHandoffEvent('handoff.created', `handoff.created:${h._id}`, data);
}

/**
 * The `handoff` queue's processor: one HandoffRequest becomes one handoff (conversion, owner,
 * notification), however many times and wherever it runs. The request's `processedAt` is set
 * once the handoff went as far as it can (notified, or waiting for a rep).
 */
export async function processHandoffRequest(rt: HandoffRuntime, requestId: string, log: Logger) {
  const req = await HandoffRequest.findById(requestId).lean<HandoffRequestDoc & { _id: string }>();
  if (!req) {
    log.warn({ requestId }, 'handoff request not found; nothing to do');
    return { status: 'missing' as const };
  }
  let h: HandoffDoc;
  try {
    h = await advanceHandoff(rt, await claimHandoff(req), log);
  } catch (err) {
    // the lead was erased (or merged away) before its handoff: nothing to hand off, for good
    if (!(err instanceof AppError && err.status === 404)) throw err;
    log.warn({ requestId, err: err.message }, 'handoff request cannot be handed off');
    await HandoffRequest.updateOne({ _id: req._id }, takenUpdate(clock.now()));
    return { status: 'missing' as const };
  }
  // taken for good once the notification's outcome is known (or nobody can be assigned yet); an
  // attempt still in flight leaves it to the reconciler
  const settled =
    ['sent', 'unknown', 'failed', 'awaiting_owner'].includes(h.notificationStatus) || h.status !== 'pending';
  if (settled && !req.processedAt)
    await HandoffRequest.updateOne({ _id: req._id, processedAt: null }, takenUpdate(clock.now()));
  return { status: h.status, ownerId: h.ownerId ?? null, notificationStatus: h.notificationStatus };
}

/** Handoffs waiting for an owner get one now (after a rep was added or re-activated). */
export async function assignWaitingHandoffs(rt: HandoffRuntime, log: Logger, limit = 200): Promise<number> {
  const waiting = await Handoff.find({ status: 'pending', ownerId: null })
    .sort({ createdAt: 1 })
    .limit(limit)
    .lean<HandoffDoc[]>();
  let n = 0;
  for (const h of waiting) if ((await advanceHandoff(rt, h, log)).ownerId) n++;
  return n;
}
