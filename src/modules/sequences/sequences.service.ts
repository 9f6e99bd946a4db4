import { Types } from 'mongoose';
import { clock, parseDuration } from '../../lib/clock.js';
import { conflict, notFound } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import { counter } from '../../lib/metrics.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import type { Runtime } from '../../lib/runtime.js';
import { enqueue, enqueueBulk, getQueue, type Payload } from '../../queues/index.js';
import { EmailSend, renderEmail, type RenderLead } from '../email/index.js';
import { LeadEvent, recordEvent } from '../events/index.js';
import { Lead, type LeadDoc } from '../leads/index.js';
import { isSuppressed } from '../suppression/index.js';
import { Enrollment, type EnrollmentDoc } from './enrollment.model.js';
import { SequenceVersion } from './sequence.model.js';
import {
  capDeferral,
  chooseTimezone,
  chooseVariant,
  evaluateCondition,
  foldStepStats,
  nextAllowedTime,
  reenrollAllowed,
  type SendFacts,
} from './sequences.logic.js';
import type { PreviewBody, SequenceDefinition, SequenceStep } from './sequences.schemas.js';

type RenderRuntime = Parameters<typeof renderEmail>[0];

const stepOutcomes = () =>
  counter(
    'leadflow_sequence_steps_total',
    'Sequence step outcomes (sent, skipped, deferred, exited, completed)',
    ['outcome'],
  );

type Version = { key: string; version: number; definition: SequenceDefinition; createdAt?: Date };

export type SequenceView = SequenceDefinition & { key: string; version: number; createdAt: string | null };

function toSequenceView(v: Version): SequenceView {
  return {
    key: v.key,
    version: v.version,
    ...v.definition,
    createdAt: v.createdAt ? v.createdAt.toISOString() : null,
  };
}

/**
 * Stores `definition` as the next version of `key`. The (key, version) unique index settles two
 * concurrent PUTs: the loser takes the following number.
 */
export async function putSequence(
  key: string,
  definition: SequenceDefinition,
): Promise<{ key: string; version: number }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const latest = await SequenceVersion.findOne({ key }, { version: 1 }).sort({ version: -1 }).lean();
    const version = (latest?.version ?? 0) + 1;
    try {
      await SequenceVersion.create({
        key,
        version,
        definition,
        enrollFormIds: definition.enroll.formIds,
        enrollSources: definition.enroll.sources,
      });
      return { key, version };
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }
  throw conflict(`sequence ${key} is being changed concurrently; try again`);
}

/** Versions never change once stored, so workers keep the ones they run (bounded). */
const versionCache = new Map<string, Version>();
async function findVersionCached(key: string, version: number): Promise<Version | null> {
  const k = `${key}\u0000${version}`;
  const hit = versionCache.get(k);
  if (hit) return hit;
  const v = await findVersion(key, version);
  if (v) {
    if (versionCache.size >= 500) versionCache.delete(versionCache.keys().next().value!);
    versionCache.set(k, v);
  }
  return v;
}

async function findVersion(key: string, version?: number): Promise<Version | null> {
  const q = SequenceVersion.findOne(version === undefined ? { key } : { key, version });
  const doc = await q.sort({ version: -1 }).lean();
  return doc as Version | null;
}

/** The latest version of `key` (or the given one); 404 when there is none. */
export async function getSequence(key: string, version?: number): Promise<SequenceView> {
  const v = await findVersion(key, version);
  if (!v) throw notFound(version === undefined ? `sequence ${key}` : `sequence ${key} version ${version}`);
  return toSequenceView(v);
}

/** Latest version of every sequence, by key. */
export async function listSequences(opts: { limit: number; cursor?: string }) {
  const keys = ((await SequenceVersion.distinct('key')) as string[])
    .filter((k) => opts.cursor === undefined || k > opts.cursor)
    .sort();
  const page = keys.slice(0, opts.limit);
  const items = await Promise.all(page.map((k) => getSequence(k)));
  return { items, nextCursor: keys.length > opts.limit ? (page[page.length - 1] ?? null) : null };
}

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

const activeSlot = (leadId: string, key: string) => `${leadId}:${key}`;

/** BullMQ job id of one run of one step: duplicates (reconciler, retries) collapse onto it. */
export function nurtureJobId(e: {
  _id: Types.ObjectId | string;
  currentStep: number;
  nextRunAt?: Date | null;
}): string {
  return `nurture-${String(e._id)}-${e.currentStep}-${e.nextRunAt?.getTime() ?? 0}`;
}

function waitMs(step: SequenceStep | undefined): number {
  return step ? (parseDuration(step.wait) ?? 0) : 0;
}

async function scheduleRun(e: {
  _id: Types.ObjectId;
  currentStep: number;
  nextRunAt?: Date | null;
}): Promise<void> {
  if (!e.nextRunAt) return;
  const delay = Math.max(0, e.nextRunAt.getTime() - clock.now().getTime());
  await enqueue('nurture', { enrollmentId: String(e._id) }, { jobId: nurtureJobId(e), delay });
}

export type EnrollResult = { enrollment: EnrollmentView; created: boolean };

/**
 * Enrolls a lead into the latest version of a sequence, honouring the re-enrollment policy.
 * 404 for an unknown sequence or lead; 409 when the lead is already in it, may not re-enter, or
 * may not be mailed.
 */
export async function enrollLead(key: string, leadId: string, log?: Logger): Promise<EnrollmentView> {
  const seq = await findVersion(key);
  if (!seq) throw notFound(`sequence ${key}`);
  let lead = await Lead.findById(leadId).lean();
  // a merged lead's links resolve to the survivor
  if (lead?.mergedInto) lead = await Lead.findById(lead.mergedInto).lean();
  if (!lead) throw notFound('lead');
  if (await isUnmailable(lead)) throw conflict('the lead has unsubscribed or its address is suppressed');
  const id = String(lead._id);
  // under "always" only an active enrollment blocks, and the unique slot insert below refuses that
  const previous =
    seq.definition.reenroll === 'always'
      ? []
      : await Enrollment.find({ leadId: lead._id, sequenceKey: key }, { finishedAt: 1 }).lean();
  const now = clock.now();
  if (!reenrollAllowed(seq.definition.reenroll, previous, now)) {
    throw conflict(
      previous.some((p) => p.finishedAt == null)
        ? `the lead is already enrolled in ${key}`
        : `the re-enrollment policy of ${key} (${seq.definition.reenroll}) does not allow enrolling this lead again`,
    );
  }
  const enrollmentId = new Types.ObjectId();
  let doc: EnrollmentDoc;
  try {
    const created = await Enrollment.create({
      _id: enrollmentId,
      leadId: lead._id,
      sequenceKey: key,
      version: seq.version,
      slot: activeSlot(id, key),
      state: 'active',
      currentStep: 0,
      nextRunAt: new Date(now.getTime() + waitMs(seq.definition.steps[0])),
      anchorAt: now,
      enrolledAt: now,
      history: [{ at: now, action: 'enrolled', detail: `version ${seq.version}` }],
    });
    doc = created.toObject() as EnrollmentDoc;
  } catch (err) {
    if (isDuplicateKey(err)) throw conflict(`the lead is already enrolled in ${key}`);
    throw err;
  }
  await Lead.updateOne(
    { _id: lead._id, status: { $in: ['open', 'contacted'] } },
    { $set: { status: 'nurturing' } },
  );
  await recordEvent({
    leadId: lead._id,
    type: 'enrolled',
    occurredAt: now,
    key: `enrolled:${String(enrollmentId)}`,
    properties: { sequenceKey: key, version: seq.version, enrollmentId: String(enrollmentId) },
  });
  await scheduleRun(doc);
  log?.info({ enrollmentId: String(enrollmentId), sequenceKey: key, leadId: id }, 'lead enrolled');
  return toEnrollmentView(doc);
}

async function isUnmailable(lead: Pick<LeadDoc, 'unsubscribed' | 'email'>): Promise<boolean> {
  if (lead.unsubscribed) return true;
  return isSuppressed(lead.email);
}

/** Ends an active enrollment; frees its slot so the re-enrollment policy decides what comes next. */
async function finishEnrollment(
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
 * goal reached elsewhere). Returns how many were exited.
 */
export async function exitEnrollmentsForLead(
  leadId: string | Types.ObjectId,
  reason: string,
): Promise<number> {
  const active = await Enrollment.find(
    { leadId: new Types.ObjectId(String(leadId)), state: 'active' },
    { leadId: 1, sequenceKey: 1 },
  ).lean();
  let n = 0;
  for (const e of active) if (await finishEnrollment(e, 'exited', reason)) n++;
  return n;
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

async function recentSendTimes(leadId: Types.ObjectId, since: Date): Promise<Date[]> {
  const rows = await Enrollment.find({ leadId, 'history.at': { $gte: since } }, { history: 1 }).lean();
  return rows.flatMap((r) =>
    (r.history ?? []).filter((h) => h.action === 'sent' && h.at >= since).map((h) => h.at),
  );
}

export type AdvanceOutcome = { state: string; sent: string[]; skipped: string[]; deferredUntil?: string };

/**
 * Runs an enrollment's due steps: exit goals first, then each step's condition, send window and
 * frequency cap, then one EmailSend per (enrollment, step) — its unique sendKey is the at-most-once
 * guarantee, so a retry after a crash finds the send already recorded and only finishes the step.
 */
export async function advanceEnrollment(
  rt: Runtime,
  enrollmentId: string,
  log?: Logger,
): Promise<AdvanceOutcome> {
  const out: AdvanceOutcome = { state: 'missing', sent: [], skipped: [] };
  let seq: Version | null = null;
  for (let guard = 0; guard < 60; guard++) {
    const e = (await Enrollment.findById(enrollmentId).lean()) as EnrollmentDoc | null;
    if (!e) return out;
    out.state = e.state;
    if (e.state !== 'active') return out;
    const now = clock.now();
    if (e.nextRunAt && e.nextRunAt > now) {
      out.deferredUntil = e.nextRunAt.toISOString();
      await scheduleRun(e);
      return out;
    }
    seq ??= await findVersionCached(e.sequenceKey, e.version);
    if (!seq) {
      await finishEnrollment(e, 'exited', 'sequence_missing');
      out.state = 'exited';
      return out;
    }
    const def = seq.definition;
    const index = e.currentStep;
    const step = def.steps[index];
    if (!step) {
      await finishEnrollment(e, 'completed', null);
      out.state = 'completed';
      return out;
    }
    const lead = (await Lead.findById(e.leadId).lean()) as LeadDoc | null;
    if (!lead || lead.mergedInto) {
      await finishEnrollment(e, 'exited', lead ? 'merged' : 'lead_deleted');
      out.state = 'exited';
      return out;
    }
    if (!e.slot.startsWith(`${String(e.leadId)}:`) && (await hasOtherActive(e))) {
      // moved here by a lead merge while the survivor was already in this sequence: one is enough
      await finishEnrollment(e, 'exited', 'merged');
      out.state = 'exited';
      return out;
    }
    const reason = await exitReasonFor(e, def, lead);
    if (reason) {
      await finishEnrollment(e, 'exited', reason);
      out.state = 'exited';
      log?.info({ enrollmentId, reason }, 'enrollment exited');
      return out;
    }
    const sendKey = `${enrollmentId}:${step.id}`;
    let send = await EmailSend.findOne({ sendKey }, { _id: 1 }).lean();
    if (!send) {
      if (step.if) {
        const sends = await EmailSend.find(
          { enrollmentId: e._id },
          { stepId: 1, openedAt: 1, clickedAt: 1 },
        ).lean();
        const byStep = new Map<string, SendFacts>(sends.map((s) => [String(s.stepId), s]));
        if (!evaluateCondition(step.if, (id) => byStep.get(id))) {
          await moveToNextStep(
            e,
            def,
            index,
            step,
            now,
            { action: 'skipped', detail: 'condition false' },
            false,
          );
          out.skipped.push(step.id);
          stepOutcomes().inc({ outcome: 'skipped' });
          continue;
        }
      }
      if (def.sendWindow) {
        const zone = chooseTimezone(def.sendWindow.timezone, lead);
        const allowed = nextAllowedTime(now, def.sendWindow, zone);
        if (allowed > now) {
          await deferEnrollment(e, step, allowed, `send window (${zone})`);
          out.deferredUntil = allowed.toISOString();
          return out;
        }
      }
      const cap = rt.config.frequencyCap;
      if (cap) {
        const times = await recentSendTimes(e.leadId, new Date(now.getTime() - cap.windowMs));
        const until = capDeferral(times, now, cap);
        if (until) {
          await deferEnrollment(e, step, until, 'frequency cap');
          out.deferredUntil = until.toISOString();
          return out;
        }
      }
      const { variant, content } = stepContent(step);
      try {
        const created = await EmailSend.create({
          sendKey,
          leadId: e.leadId,
          enrollmentId: e._id,
          sequenceKey: e.sequenceKey,
          sequenceVersion: e.version,
          stepId: step.id,
          variant,
          content,
          marketing: true,
          status: 'pending',
        });
        send = { _id: created._id };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // another run recorded this step first: it is sent (or being sent) once, by that record
        send = await EmailSend.findOne({ sendKey }, { _id: 1 }).lean();
      }
    }
    if (!send) throw new Error(`send ${sendKey} vanished`);
    const sendId = String(send._id);
    await enqueue('email', { sendId }, { jobId: sendId });
    await moveToNextStep(e, def, index, step, now, { action: 'sent', sendId }, true);
    out.sent.push(step.id);
    stepOutcomes().inc({ outcome: 'sent' });
    log?.debug({ enrollmentId, stepId: step.id, sendId }, 'step sent');
  }
  return out;
}

async function moveToNextStep(
  e: EnrollmentDoc,
  def: SequenceDefinition,
  index: number,
  step: SequenceStep,
  now: Date,
  entry: { action: 'sent' | 'skipped'; detail?: string; sendId?: string },
  sent: boolean,
): Promise<void> {
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

/**
 * Rebuilds work from MongoDB (the record of truth): every active enrollment whose next step is
 * due gets its job back (a delayed one is promoted, since the clock may run ahead of Redis' timers),
 * and every pending send gets its email job. Deterministic job ids make this safe to run anytime.
 */
export async function reconcileSequences(
  _rt: Runtime,
  log?: Logger,
  opts: { limit?: number } = {},
): Promise<{ enrollments: number; sends: number }> {
  const limit = opts.limit ?? 1000;
  const now = clock.now();
  const due = await Enrollment.find(
    { state: 'active', nextRunAt: { $lte: now } },
    { currentStep: 1, nextRunAt: 1 },
  )
    .sort({ nextRunAt: 1 })
    .limit(limit)
    .lean();
  const queue = getQueue('nurture');
  for (const e of due) {
    const jobId = nurtureJobId(e);
    const job = await queue.getJob(jobId);
    if (job) {
      const state = await job.getState();
      if (state === 'delayed') {
        await job.promote();
        continue;
      }
      if (state !== 'completed' && state !== 'failed') continue;
      // a finished job for a step still due (it ran too early, or gave up): run it again
      await job.remove();
    }
    await enqueue('nurture', { enrollmentId: String(e._id) }, { jobId });
  }
  const pending = await EmailSend.find({ status: 'pending', enrollmentId: { $ne: null } }, { _id: 1 })
    .limit(limit)
    .lean();
  await enqueueBulk(
    'email',
    pending.map((s) => ({ payload: { sendId: String(s._id) }, opts: { jobId: String(s._id) } })),
  );
  if (due.length || pending.length)
    log?.info({ enrollments: due.length, sends: pending.length }, 'reconciled');
  return { enrollments: due.length, sends: pending.length };
}

/**
 * lead-captured: enrolls the lead into every sequence whose `enroll` trigger names the form or the
 * source, and into the one the form names. A refusal (already enrolled, policy) is not an error.
 */
export async function enrollCapturedLead(payload: Payload<'lead-captured'>, log?: Logger): Promise<string[]> {
  const keys = new Set<string>();
  if (payload.sequenceKey) keys.add(payload.sequenceKey);
  const or: Record<string, unknown>[] = [];
  if (payload.formId) or.push({ enrollFormIds: payload.formId });
  if (payload.source) or.push({ enrollSources: payload.source });
  if (or.length) {
    const matches = await SequenceVersion.find({ $or: or }, { key: 1, version: 1 }).lean();
    for (const m of matches) {
      // only the latest version's trigger counts
      const latest = await SequenceVersion.findOne({ key: m.key }, { version: 1 })
        .sort({ version: -1 })
        .lean();
      if (latest?.version === m.version) keys.add(m.key);
    }
  }
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

type Counts = { sent: number; opened: number; clicked: number; unsubscribed: number; bounced: number };

/** GET /api/sequences/:key/stats over every version of the sequence. */
export async function sequenceStats(key: string) {
  const seq = await findVersion(key);
  if (!seq) throw notFound(`sequence ${key}`);
  const byState = await Enrollment.aggregate<{ _id: string; n: number }>([
    { $match: { sequenceKey: key } },
    { $group: { _id: '$state', n: { $sum: 1 } } },
  ]);
  const count = (s: string) => byState.find((r) => r._id === s)?.n ?? 0;
  const leadIds = await Enrollment.distinct('leadId', { sequenceKey: key });
  const converted = leadIds.length
    ? await Lead.countDocuments({ _id: { $in: leadIds }, status: 'converted' })
    : 0;

  // counts per (step, variant): simple $match/$group that every MongoDB-compatible server runs
  const group = { _id: { stepId: '$stepId', variant: '$variant' }, n: { $sum: 1 } };
  type G = { _id: { stepId: string; variant?: string | null; status?: string }; n: number };
  const [byStatus, opened, clicked] = await Promise.all([
    EmailSend.aggregate<G>([
      { $match: { sequenceKey: key } },
      { $group: { _id: { stepId: '$stepId', variant: '$variant', status: '$status' }, n: { $sum: 1 } } },
    ]),
    EmailSend.aggregate<G>([{ $match: { sequenceKey: key, openedAt: { $ne: null } } }, { $group: group }]),
    EmailSend.aggregate<G>([{ $match: { sequenceKey: key, clickedAt: { $ne: null } } }, { $group: group }]),
  ]);
  // unsubscribes are few: find their sends, then keep this sequence's
  const unsubEvents = await LeadEvent.find(
    { type: 'unsubscribe', 'properties.sendId': { $exists: true } },
    { properties: 1 },
  ).lean();
  const unsubIds = unsubEvents
    .map((ev) => String((ev.properties as { sendId?: unknown }).sendId))
    .filter((id) => /^[a-f0-9]{24}$/.test(id));
  const unsubSends = unsubIds.length
    ? await EmailSend.find({ _id: { $in: unsubIds }, sequenceKey: key }, { stepId: 1, variant: 1 }).lean()
    : [];
  const rows = new Map<string, Counts & { stepId: string; variant: string | null }>();
  const row = (stepId: unknown, variant: unknown) => {
    const k = `${String(stepId)}\u0000${variant == null ? '' : String(variant)}`;
    let r = rows.get(k);
    if (!r) {
      r = {
        stepId: String(stepId),
        variant: variant == null ? null : String(variant),
        sent: 0,
        opened: 0,
        clicked: 0,
        unsubscribed: 0,
        bounced: 0,
      };
      rows.set(k, r);
    }
    return r;
  };
  for (const g of byStatus) {
    const r = row(g._id.stepId, g._id.variant);
    // a bounce was sent too: "sent" counts every message handed to the mail server
    if (g._id.status === 'sent' || g._id.status === 'bounced') r.sent += g.n;
    if (g._id.status === 'bounced') r.bounced += g.n;
  }
  for (const g of opened) row(g._id.stepId, g._id.variant).opened += g.n;
  for (const g of clicked) row(g._id.stepId, g._id.variant).clicked += g.n;
  for (const s of unsubSends) row(s.stepId, s.variant).unsubscribed++;
  // every step any version had, latest version's order first
  const versions = await SequenceVersion.find({ key }, { definition: 1, version: 1 })
    .sort({ version: -1 })
    .lean();
  const stepIds: string[] = [];
  const variantIds = new Map<string, string[]>();
  for (const v of versions) {
    for (const st of (v.definition as SequenceDefinition).steps) {
      if (!stepIds.includes(st.id)) stepIds.push(st.id);
      if (st.variants) {
        const ids = variantIds.get(st.id) ?? [];
        for (const vv of st.variants) if (!ids.includes(vv.id)) ids.push(vv.id);
        variantIds.set(st.id, ids);
      }
    }
  }
  return {
    key,
    version: seq.version,
    enrolled: byState.reduce((a, r) => a + r.n, 0),
    active: count('active'),
    completed: count('completed'),
    exited: count('exited'),
    converted,
    steps: foldStepStats(stepIds, variantIds, [...rows.values()]),
  };
}

/** Who a preview is rendered for when the caller names no lead. */
const sampleLead: RenderLead = {
  email: 'ada@example.com',
  firstName: 'Ada',
  lastName: 'Lovelace',
  company: 'Example Ltd',
  title: 'Head of Engineering',
  country: 'GB',
  source: 'Preview',
  attributes: {},
};

type RenderedStep = { id: string; subject: string; html: string; text: string };

/**
 * Renders every step of the latest version for one lead (a stored one, one given inline, or a
 * sample), as email would send it but untracked. A step with variants lists each of them.
 */
export async function previewSequence(rt: RenderRuntime, key: string, body: PreviewBody) {
  const seq = await findVersion(key);
  if (!seq) throw notFound(`sequence ${key}`);
  let lead: RenderLead = body.lead ?? sampleLead;
  if (body.leadId) {
    const found = await Lead.findById(body.leadId).lean();
    if (!found) throw notFound('lead');
    lead = found as RenderLead;
  }
  const render = async (content: ReturnType<typeof stepContent>['content']) => {
    const r = await renderEmail(rt, { lead, content, marketing: true });
    return { subject: r.subject, html: r.html, text: r.text };
  };
  const steps: (RenderedStep & { variants?: RenderedStep[] })[] = [];
  for (const step of seq.definition.steps) {
    if (!step.variants) {
      steps.push({ id: step.id, ...(await render(stepContent(step).content)) });
      continue;
    }
    const variants: RenderedStep[] = [];
    for (const v of step.variants) {
      const only = { ...step, variants: [{ ...v, weight: 1 }] };
      variants.push({ id: v.id, ...(await render(stepContent(only).content)) });
    }
    steps.push({ ...variants[0]!, id: step.id, variants });
  }
  return { key, version: seq.version, steps };
}
