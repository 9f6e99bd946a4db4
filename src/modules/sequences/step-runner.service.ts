import type { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import type { Runtime } from '../../lib/runtime.js';
import { enqueue } from '../../queues/index.js';
import { EmailSend } from '../email/index.js';
import { LeadEvent } from '../events/index.js';
import { Lead, type LeadDoc } from '../leads/index.js';
import { isSuppressed } from '../suppression/index.js';
import { Enrollment, type EnrollmentDoc } from './enrollment.model.js';
import { finishEnrollment, scheduleRun, stepOutcomes, waitMs } from './enrollments.service.js';
import { findVersionCached } from './sequence-versions.service.js';
import {
  capDeferral,
  chooseTimezone,
  chooseVariant,
  evaluateCondition,
  nextAllowedTime,
  type SendFacts,
} from './sequences.logic.js';
import type { SequenceDefinition, SequenceStep } from './sequences.schemas.js';

export type AdvanceOutcome = { state: string; sent: string[]; skipped: string[]; deferredUntil?: string };

/** One step that is due now, with what the gates and the send need. */
type DueStep = { e: EnrollmentDoc; def: SequenceDefinition; step: SequenceStep; lead: LeadDoc; now: Date };

/** What the gates decided: run the step, skip it (condition false), or wait until a time. */
type GateDecision = { run: true } | { skip: string } | { deferUntil: Date; why: string };

/**
 * Runs an enrollment's due steps, one after another: the guard (is a step due, does the enrollment
 * still run, has the lead reached an exit goal?), then the gates (condition, send window,
 * frequency cap), then the send is recorded — one EmailSend per (enrollment, step): its unique
 * sendKey is the at-most-once guarantee, so a retry after a crash finds the send already recorded
 * and only finishes the step.
 */
export async function advanceEnrollment(
  rt: Runtime,
  enrollmentId: string,
  log?: Logger,
): Promise<AdvanceOutcome> {
  const out: AdvanceOutcome = { state: 'missing', sent: [], skipped: [] };
  for (let guard = 0; guard < 60; guard++) {
    const due = await guardStep(enrollmentId, out, log);
    if (!due) return out;
    const sendKey = `${enrollmentId}:${due.step.id}`;
    const recorded = await EmailSend.findOne({ sendKey }, { _id: 1 }).lean();
    if (!recorded) {
      const gate = await checkGates(rt, due);
      if ('skip' in gate) {
        await moveToNextStep(due, { action: 'skipped', detail: gate.skip }, false);
        out.skipped.push(due.step.id);
        stepOutcomes().inc({ outcome: 'skipped' });
        continue;
      }
      if ('deferUntil' in gate) {
        await deferEnrollment(due.e, due.step, gate.deferUntil, gate.why);
        out.deferredUntil = gate.deferUntil.toISOString();
        return out;
      }
    }
    const sendId = recorded ? String(recorded._id) : await recordSend(due, sendKey);
    await handOverSend(due, sendId);
    out.sent.push(due.step.id);
    log?.debug({ enrollmentId, stepId: due.step.id, sendId }, 'step sent');
  }
  return out;
}

/**
 * The guard: loads the enrollment and answers its due step, or nothing when there is nothing to
 * do now (not active, not due yet) or the enrollment just ended (completed, or an exit reason).
 */
async function guardStep(
  enrollmentId: string,
  out: AdvanceOutcome,
  log?: Logger,
): Promise<DueStep | undefined> {
  const e = (await Enrollment.findById(enrollmentId).lean()) as EnrollmentDoc | null;
  if (!e) return undefined;
  out.state = e.state;
  if (e.state !== 'active') return undefined;
  const now = clock.now();
  if (e.nextRunAt && e.nextRunAt > now) {
    out.deferredUntil = e.nextRunAt.toISOString();
    await scheduleRun(e);
    return undefined;
  }
  const end = async (state: 'completed' | 'exited', reason: string | null) => {
    await finishEnrollment(e, state, reason);
    out.state = state;
    if (reason) log?.info({ enrollmentId, reason }, 'enrollment exited');
    return undefined;
  };
  const seq = await findVersionCached(e.sequenceKey, e.version);
  if (!seq) return end('exited', 'sequence_missing');
  const step = seq.definition.steps[e.currentStep];
  if (!step) return end('completed', null);
  const lead = (await Lead.findById(e.leadId).lean()) as LeadDoc | null;
  const reason = await stopReason(e, seq.definition, lead);
  if (reason) return end('exited', reason);
  return { e, def: seq.definition, step, lead: lead!, now };
}

/** Why the enrollment must end before this step, if it must. */
async function stopReason(
  e: EnrollmentDoc,
  def: SequenceDefinition,
  lead: LeadDoc | null,
): Promise<string | undefined> {
  if (!lead) return 'lead_deleted';
  if (lead.mergedInto) return 'merged';
  // moved here by a lead merge while the survivor was already in this sequence: one is enough
  if (!e.slot.startsWith(`${String(e.leadId)}:`) && (await hasOtherActive(e))) return 'merged';
  return exitReasonFor(e, def, lead);
}

/** Whether the lead has another active enrollment in the same sequence that started earlier. */
async function hasOtherActive(e: EnrollmentDoc): Promise<boolean> {
  const others = await Enrollment.find(
    { leadId: e.leadId, sequenceKey: e.sequenceKey, state: 'active', _id: { $ne: e._id } },
    { enrolledAt: 1 },
  ).lean();
  const earlier = (o: { _id: Types.ObjectId; enrolledAt: Date }) =>
    o.enrolledAt < e.enrolledAt ||
    (o.enrolledAt.getTime() === e.enrolledAt.getTime() && String(o._id) < String(e._id));
  return others.some(earlier);
}

/** Which exit goal (or hard stop) applies to this lead now, if any. */
async function exitReasonFor(
  e: Pick<EnrollmentDoc, 'leadId' | 'enrolledAt'>,
  def: SequenceDefinition,
  lead: LeadDoc,
): Promise<string | undefined> {
  // not a goal but a rule: no marketing email after an unsubscribe, bounce or complaint
  if (lead.unsubscribed) return 'unsubscribed';
  if (await isSuppressed(lead.email)) return 'suppressed';
  const goals = new Set(def.exitOn);
  if (goals.has('converted') && (lead.status === 'converted' || lead.convertedAt)) return 'converted';
  if (goals.has('qualified') && (lead.status === 'qualified' || lead.status === 'converted'))
    return 'qualified';
  if (goals.has('replied')) {
    const replied = await LeadEvent.exists({
      leadId: e.leadId,
      type: { $in: ['reply', 'email_reply'] },
      occurredAt: { $gte: e.enrolledAt },
    });
    if (replied) return 'replied';
  }
  return undefined;
}

/** The gates, in order: the step's condition, the sequence's send window, the frequency cap. */
async function checkGates(rt: Runtime, d: DueStep): Promise<GateDecision> {
  if (d.step.if) {
    const sends = await EmailSend.find(
      { enrollmentId: d.e._id },
      { stepId: 1, openedAt: 1, clickedAt: 1 },
    ).lean();
    const byStep = new Map<string, SendFacts>(sends.map((s) => [String(s.stepId), s]));
    if (!evaluateCondition(d.step.if, (id) => byStep.get(id))) return { skip: 'condition false' };
  }
  if (d.def.sendWindow) {
    const zone = chooseTimezone(d.def.sendWindow.timezone, d.lead);
    const allowed = nextAllowedTime(d.now, d.def.sendWindow, zone);
    if (allowed > d.now) return { deferUntil: allowed, why: `send window (${zone})` };
  }
  const cap = rt.config.frequencyCap;
  if (cap) {
    const times = await recentSendTimes(d.e.leadId, new Date(d.now.getTime() - cap.windowMs));
    const until = capDeferral(times, d.now, cap);
    if (until) return { deferUntil: until, why: 'frequency cap' };
  }
  return { run: true };
}

async function recentSendTimes(leadId: Types.ObjectId, since: Date): Promise<Date[]> {
  const rows = await Enrollment.find({ leadId, 'history.at': { $gte: since } }, { history: 1 }).lean();
  return rows.flatMap((r) =>
    (r.history ?? []).filter((h) => h.action === 'sent' && h.at >= since).map((h) => h.at),
  );
}

/** What to snapshot for a step: the chosen variant's subject and body, else the step's own. */
export function stepContent(step: SequenceStep, random: () => number = Math.random) {
  const variant = step.variants ? chooseVariant(step.variants, random) : undefined;
  const own = variant && (variant.template ?? variant.html ?? variant.text) !== undefined ? variant : step;
  return {
    variant: variant?.id ?? null,
    content: {
      subject: variant?.subject ?? step.subject ?? '',
      html: own.html ?? null,
      text: own.text ?? null,
      template: own.template ?? null,
    },
  };
}

/** Records the step's send (its content snapshotted); a concurrent run's record wins and is reused. */
async function recordSend(d: DueStep, sendKey: string): Promise<string> {
  const { variant, content } = stepContent(d.step);
  try {
    const created = await EmailSend.create({
      sendKey,
      leadId: d.e.leadId,
      enrollmentId: d.e._id,
      sequenceKey: d.e.sequenceKey,
      sequenceVersion: d.e.version,
      stepId: d.step.id,
      variant,
      content,
      marketing: true,
      status: 'pending',
    });
    return String(created._id);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    // another run recorded this step first: it is sent (or being sent) once, by that record
    const first = await EmailSend.findOne({ sendKey }, { _id: 1 }).lean();
    if (!first) throw new Error(`send ${sendKey} vanished`, { cause: err });
    return String(first._id);
  }
}

/** Hands the recorded send to email and moves the enrollment to its next step. */
async function handOverSend(d: DueStep, sendId: string): Promise<void> {
  await enqueue('email', { sendId }, { jobId: sendId });
  await moveToNextStep(d, { action: 'sent', sendId }, true);
  stepOutcomes().inc({ outcome: 'sent' });
}

async function deferEnrollment(
  e: EnrollmentDoc,
  step: SequenceStep,
  until: Date,
  why: string,
): Promise<void> {
  const at = clock.now();
  // only the first deferral of a step goes into the history; a re-check that lands on the same time is a no-op
  if (e.nextRunAt?.getTime() === until.getTime()) {
    await scheduleRun(e);
    return;
  }
  await Enrollment.updateOne(
    { _id: e._id, state: 'active', currentStep: e.currentStep },
    {
      $set: { nextRunAt: until },
      $push: {
        history: { at, action: 'deferred', stepId: step.id, detail: `${why} until ${until.toISOString()}` },
      },
    },
  );
  await scheduleRun({ _id: e._id, currentStep: e.currentStep, nextRunAt: until });
  stepOutcomes().inc({ outcome: 'deferred' });
}

async function moveToNextStep(
  d: DueStep,
  entry: { action: 'sent' | 'skipped'; detail?: string; sendId?: string },
  sent: boolean,
): Promise<void> {
  const { e, def, step, now } = d;
  const index = e.currentStep;
  // a wait counts from the previous step's send (or enrollment), so a skipped step moves no anchor
  const anchor = sent ? now : e.anchorAt;
  const next = def.steps[index + 1];
  const nextRunAt = new Date(Math.max(anchor.getTime() + waitMs(next), now.getTime()));
  await Enrollment.updateOne(
    { _id: e._id, state: 'active', currentStep: index },
    {
      $set: { currentStep: index + 1, anchorAt: anchor, nextRunAt },
      $push: {
        history: {
          at: now,
          action: entry.action,
          stepId: step.id,
          detail: entry.detail ?? null,
          sendId: entry.sendId ?? null,
        },
      },
    },
  );
}
