import { clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import { classifySmtpError } from '../email/index.js';
import { headerSafe, renderEmail } from '../email/index.js';
import { LeadEvent } from '../leads/index.js';
import { Lead, type LeadDoc } from '../leads/index.js';
import { signActionToken } from './action-links.js';
import { agreementTerms } from './agreement.js';
import { HandoffClaim, type HandoffDoc } from './handoff.model.js';
import { Rep } from './rep.model.js';

export type NotifyKind = 'new' | 'reassigned' | 'reminder';
export type NotifyOutcome = 'sent' | 'unknown' | 'failed' | 'in_progress';

type NotifyRuntime = Pick<Runtime, 'config' | 'mailer' | 'trackingSecret'>;

/** A claim younger than this whose outcome is not recorded belongs to an attempt still running. */
export const notifyStaleMs = 2 * 60_000;

const bantLabels = { budget: 'Budget', authority: 'Authority', need: 'Need', timeline: 'Timeline' } as const;
const detailKeys = ['path', 'url', 'subject', 'sequenceKey', 'formId', 'reason', 'to', 'stepId'];

function activityDetail(props: Record<string, unknown> | null | undefined): string | undefined {
  for (const k of detailKeys) {
    const v = props?.[k];
    if (typeof v === 'string' && v) return headerSafe(v, 120);
  }
  return undefined;
}

/** What the notification template sees besides the lead (all plain values; Handlebars escapes). */
async function templateData(
  rt: NotifyRuntime,
  h: HandoffDoc,
  lead: LeadDoc,
  ownerId: string,
  kind: NotifyKind,
) {
  const terms = await agreementTerms(h.agreementVersion);
  const reasons = (h.reasons ?? {}) as {
    score?: number;
    grade?: string | null;
    topReasons?: { reason?: string; points?: number }[];
    bant?: Record<string, unknown>;
  };
  const events = await LeadEvent.find({ leadId: lead._id }, { type: 1, occurredAt: 1, properties: 1 })
    .sort({ occurredAt: -1, _id: -1 })
    .limit(10)
    .lean();
  const bant = reasons.bant ?? lead.bant ?? {};
  const base = rt.config.publicUrl;
  const agreedBy = [terms.agreedBy.marketing, terms.agreedBy.sales].filter(Boolean).join(' and ');
  return {
    reassigned: kind === 'reassigned',
    reminder: kind === 'reminder',
    leadName: [lead.firstName, lead.lastName].filter(Boolean).join(' '),
    score: reasons.score ?? lead.score ?? 0,
    grade: reasons.grade ?? lead.grade ?? null,
    topReasons: (reasons.topReasons ?? [])
      .slice(0, 5)
      .map((r) => ({ reason: r.reason ?? '', points: r.points ?? 0 })),
    bant: Object.entries(bantLabels).map(([k, label]) => {
      const v = (bant as Record<string, unknown>)[k];
      return { label, answer: v === true ? 'yes' : v === false ? 'no' : typeof v === 'string' ? v : '' };
    }),
    agreementVersion: h.agreementVersion || null,
    agreedBy,
    slaDueAt: h.slaDueAt ? new Date(h.slaDueAt).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : null,
    activities: events.map((e) => ({
      at: e.occurredAt.toISOString().replace('T', ' ').slice(0, 16),
      kind: e.type,
      detail: activityDetail(e.properties as Record<string, unknown>),
    })),
    acceptUrl: `${base}/h/${signActionToken(rt.trackingSecret, 'accept', h._id, ownerId)}`,
    rejectUrl: `${base}/h/${signActionToken(rt.trackingSecret, 'reject', h._id, ownerId)}`,
  };
}

const subjects: Record<NotifyKind, string> = {
  new: 'New qualified lead: {{fallback leadName lead.email}}{{#if lead.company}} ({{lead.company}}){{/if}}',
  reassigned:
    'Reassigned to you: {{fallback leadName lead.email}}{{#if lead.company}} ({{lead.company}}){{/if}}',
  reminder:
    'Reminder, waiting for you: {{fallback leadName lead.email}}{{#if lead.company}} ({{lead.company}}){{/if}}',
};

const setOutcome = (claimId: string, outcome: string, extra: Record<string, unknown> = {}) =>
  HandoffClaim.updateOne({ _id: claimId }, { $set: { 'value.outcome': outcome, ...extra } });

/**
 * Sends one notification to a handoff's owner, at most once per `claimId`: the claim is inserted
 * before the SMTP call (as email sends do), so a duplicate job, a second worker or a retry after a
 * crash never mails twice. A claim found without an outcome means another attempt holds it: still
 * running when young (`in_progress`), else it died mid-send and the outcome is `unknown`.
 * Transactional: no unsubscribe footer, no frequency cap.
 */
export async function notifyOwner(
  rt: NotifyRuntime,
  h: HandoffDoc,
  ownerId: string,
  kind: NotifyKind,
  claimId: string,
  log: Logger,
): Promise<NotifyOutcome> {
  const owner = `${process.pid}:${Math.random().toString(36).slice(2)}`;
  try {
    await HandoffClaim.collection.insertOne({
      _id: claimId,
      value: { ownerId },
      owner,
      createdAt: clock.now(),
    } as never);
  } catch {
    const held = await HandoffClaim.findById(claimId).lean<{
      owner: string;
      value: { outcome?: string };
      createdAt: Date;
    }>();
    if (!held) throw new Error(`notification claim ${claimId} refused but not found`);
    if (held.owner !== owner) {
      const outcome = held.value?.outcome;
      if (outcome === 'sent' || outcome === 'failed' || outcome === 'unknown') return outcome;
      if (clock.now().getTime() - new Date(held.createdAt).getTime() < notifyStaleMs) return 'in_progress';
      await setOutcome(claimId, 'unknown');
      log.warn({ claimId }, 'notification claimed by a stopped attempt: outcome unknown, not sent again');
      return 'unknown';
    }
  }
  const [lead, rep] = await Promise.all([
    Lead.findById(h.leadId).lean<LeadDoc>(),
    Rep.findById(ownerId).lean(),
  ]);
  if (!lead || !rep) {
    await setOutcome(claimId, 'failed');
    return 'failed';
  }
  let rendered;
  try {
    rendered = await renderEmail(rt, {
      lead,
      content: { subject: subjects[kind], template: 'handoff-notification' },
      marketing: false,
      data: await templateData(rt, h, lead, ownerId, kind),
    });
  } catch (err) {
    // nothing left the process: give the claim back so a retry may send
    await HandoffClaim.deleteOne({ _id: claimId });
    throw err;
  }
  try {
    const name = headerSafe(rep.name, 200);
    await rt.mailer.send({
      from: rt.config.mailFrom,
      to: name ? { name, address: rep.email } : rep.email,
      subject: rendered.subject,
      html: rendered.html,
      text: rendered.text,
      headers: { 'X-Leadflow-Handoff': headerSafe(h._id, 100) },
    });
  } catch (err) {
    const failure = classifySmtpError(err, rt.mailer.kind);
    log.warn({ err, claimId, failure }, 'handoff notification failed');
    if (failure === 'retry') {
      await HandoffClaim.deleteOne({ _id: claimId });
      throw err;
    }
    const outcome = failure === 'unknown' ? 'unknown' : 'failed';
    await setOutcome(claimId, outcome);
    return outcome;
  }
  await setOutcome(claimId, 'sent', { 'value.sentAt': clock.now() });
  return 'sent';
}
