import { Types } from 'mongoose';
import { clock, parseDuration } from '../../lib/clock.js';
import { conflict, notFound } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { counter } from '../../lib/metrics.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import { enqueue, type Payload } from '../../queues/index.js';
import { recordEvent } from '../events/index.js';
import { Lead, type LeadDoc } from '../leads/index.js';
import { isSuppressed } from '../suppression/index.js';
import { Enrollment, type EnrollmentDoc } from './enrollment.model.js';
import { findVersion, sequencesTriggeredBy, type Version } from './sequence-versions.service.js';
import { reenrollAllowed } from './sequences.logic.js';
import type { SequenceStep } from './sequences.schemas.js';

export const stepOutcomes = () =>
  counter(
    'leadflow_sequence_steps_total',
    'Sequence step outcomes (sent, skipped, deferred, exited, completed)',
    ['outcome'],
  );

export type EnrollmentView = {
  id: string;
  leadId: string;
  sequenceKey: string;
  version: number;
  state: string;
  exitReason: string | null;
  currentStep: number;
  nextRunAt: string | null;
  enrolledAt: string;
  finishedAt: string | null;
  history: {
    at: string;
    action: string;
    stepId: string | null;
    detail: string | null;
    sendId: string | null;
  }[];
};

export function toEnrollmentView(e: EnrollmentDoc): EnrollmentView {
  return {
    id: String(e._id),
    leadId: String(e.leadId),
    sequenceKey: e.sequenceKey,
    version: e.version,
    state: e.state,
    exitReason: e.exitReason ?? null,
    currentStep: e.currentStep,
    nextRunAt: e.nextRunAt ? e.nextRunAt.toISOString() : null,
    enrolledAt: e.enrolledAt.toISOString(),
    finishedAt: e.finishedAt ? e.finishedAt.toISOString() : null,
    history: (e.history ?? []).map((h) => ({
      at: h.at.toISOString(),
      action: h.action,
      stepId: h.stepId ?? null,
      detail: h.detail ?? null,
      sendId: h.sendId ?? null,
    })),
  };
}

/** The unique slot of an active enrollment: one per (lead, sequence). */
export const activeSlot = (leadId: string, key: string) => `${leadId}:${key}`;

/** BullMQ job id of one run of one step: duplicates (reconciler, retries) collapse onto it. */
export function nurtureJobId(e: {
  _id: Types.ObjectId | string;
  currentStep: number;
  nextRunAt?: Date | null;
}): string {
  return `nurture-${String(e._id)}-${e.currentStep}-${e.nextRunAt?.getTime() ?? 0}`;
}

export function waitMs(step: SequenceStep | undefined): number {
  return step ? (parseDuration(step.wait) ?? 0) : 0;
}

/** Enqueues the enrollment's next run (delayed until `nextRunAt`). */
export async function scheduleRun(e: {
  _id: Types.ObjectId;
  currentStep: number;
  nextRunAt?: Date | null;
}): Promise<void> {
  if (!e.nextRunAt) return;
  const delay = Math.max(0, e.nextRunAt.getTime() - clock.now().getTime());
  await enqueue('nurture', { enrollmentId: String(e._id) }, { jobId: nurtureJobId(e), delay });
}

async function isUnmailable(lead: Pick<LeadDoc, 'unsubscribed' | 'email'>): Promise<boolean> {
  if (lead.unsubscribed) return true;
  return isSuppressed(lead.email);
}

/** The live lead to enroll: a merged lead's links resolve to the survivor; 404 / 409 otherwise. */
async function enrollableLead(leadId: string): Promise<LeadDoc> {
  let lead = await Lead.findById(leadId).lean<LeadDoc>();
  if (lead?.mergedInto) lead = await Lead.findById(lead.mergedInto).lean<LeadDoc>();
  if (!lead) throw notFound('lead');
  if (await isUnmailable(lead)) throw conflict('the lead has unsubscribed or its address is suppressed');
  return lead;
}

/** 409 when the re-enrollment policy keeps this lead out of the sequence. */
async function checkReenrollment(seq: Version, lead: LeadDoc, now: Date): Promise<void> {
  const key = seq.key;
  // under "always" only an active enrollment blocks, and the unique slot insert refuses that
  const previous =
    seq.definition.reenroll === 'always'
      ? []
      : await Enrollment.find({ leadId: lead._id, sequenceKey: key }, { finishedAt: 1 }).lean();
  if (reenrollAllowed(seq.definition.reenroll, previous, now)) return;
  throw conflict(
    previous.some((p) => p.finishedAt == null)
      ? `the lead is already enrolled in ${key}`
      : `the re-enrollment policy of ${key} (${seq.definition.reenroll}) does not allow enrolling this lead again`,
  );
}

/** Inserts the enrollment; its unique active slot refuses a second one (409). */
async function insertEnrollment(seq: Version, lead: LeadDoc, now: Date): Promise<EnrollmentDoc> {
  try {
    const created = await Enrollment.create({
      _id: new Types.ObjectId(),
      leadId: lead._id,
      sequenceKey: seq.key,
      version: seq.version,
      slot: activeSlot(String(lead._id), seq.key),
      state: 'active',
      currentStep: 0,
      nextRunAt: new Date(now.getTime() + waitMs(seq.definition.steps[0])),
      anchorAt: now,
      enrolledAt: now,
      history: [{ at: now, action: 'enrolled', detail: `version ${seq.version}` }],
    });
    return created.toObject() as EnrollmentDoc;
  } catch (err) {
    if (isDuplicateKey(err)) throw conflict(`the lead is already enrolled in ${seq.key}`);
    throw err;
  }
}

/**
 * Enrolls a lead into the latest version of a sequence, honouring the re-enrollment policy.
 * 404 for an unknown sequence or lead; 409 when the lead is already in it, may not re-enter, or
 * may not be mailed.
 */
export async function enrollLead(key: string, leadId: string, log?: Logger): Promise<EnrollmentView> {
  const seq = await findVersion(key);
  if (!seq) throw notFound(`sequence ${key}`);
  const lead = await enrollableLead(leadId);
  const now = clock.now();
  await checkReenrollment(seq, lead, now);
  const doc = await insertEnrollment(seq, lead, now);
  const enrollmentId = String(doc._id);
  await Lead.updateOne(
    { _id: lead._id, status: { $in: ['open', 'contacted'] } },
    { $set: { status: 'nurturing' } },
  );
  await recordEvent({
    leadId: lead._id,
    type: 'enrolled',
    occurredAt: now,
    key: `enrolled:${enrollmentId}`,
    properties: { sequenceKey: key, version: seq.version, enrollmentId },
  });
  await scheduleRun(doc);
  log?.info({ enrollmentId, sequenceKey: key, leadId: String(lead._id) }, 'lead enrolled');
  return toEnrollmentView(doc);
}

/** Ends an active enrollment; frees its slot so the re-enrollment policy decides what comes next. */
export async function finishEnrollment(
  e: Pick<EnrollmentDoc, '_id' | 'leadId' | 'sequenceKey'>,
  state: 'completed' | 'exited',
  reason: string | null,
): Promise<boolean> {
  const now = clock.now();
  const res = await Enrollment.updateOne(
    { _id: e._id, state: 'active' },
    {
      $set: {
        state,
        exitReason: reason,
        finishedAt: now,
        nextRunAt: null,
        slot: `${activeSlot(String(e.leadId), e.sequenceKey)}:${String(e._id)}`,
      },
      $push: { history: { at: now, action: state, detail: reason } },
    },
  );
  if (res.modifiedCount > 0) stepOutcomes().inc({ outcome: state });
  if (res.modifiedCount > 0 && state === 'exited') {
    await recordEvent({
      leadId: e.leadId,
      type: 'enrollment_exit',
      occurredAt: now,
      key: `enrollment_exit:${String(e._id)}`,
      properties: { sequenceKey: e.sequenceKey, enrollmentId: String(e._id), reason },
    });
  }
  return res.modifiedCount > 0;
}

/**
 * Exits every active enrollment of a lead (after an unsubscribe, a bounce or a complaint, or a
 * goal reached elsewhere), or only those `only` names. Returns how many were exited.
 */
export async function exitEnrollmentsForLead(
  leadId: string | Types.ObjectId,
  reason: string,
  only?: Types.ObjectId[],
): Promise<number> {
  const active = await Enrollment.find(
    { leadId: new Types.ObjectId(String(leadId)), state: 'active', ...(only ? { _id: { $in: only } } : {}) },
    { leadId: 1, sequenceKey: 1 },
  ).lean();
  let n = 0;
  for (const e of active) if (await finishEnrollment(e, 'exited', reason)) n++;
  return n;
}

/**
 * lead-captured: enrolls the lead into every sequence whose `enroll` trigger names the form or the
 * source, and into the one the form names. A refusal (already enrolled, policy) is not an error.
 */
export async function enrollCapturedLead(payload: Payload<'lead-captured'>, log?: Logger): Promise<string[]> {
  const keys = new Set<string>();
  if (payload.sequenceKey) keys.add(payload.sequenceKey);
  for (const k of await sequencesTriggeredBy(payload)) keys.add(k);
  const enrolled: string[] = [];
  for (const key of keys) {
    try {
      await enrollLead(key, payload.leadId, log);
      enrolled.push(key);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status !== 404 && status !== 409) throw err;
      log?.debug({ key, leadId: payload.leadId, reason: (err as Error).message }, 'not enrolled');
    }
  }
  return enrolled;
}
