import { randomUUID } from 'node:crypto';
import { Types } from 'mongoose';
import { AppError } from '../../lib/errors.js';
import { clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { counter } from '../../lib/metrics.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import type { Runtime } from '../../lib/runtime.js';
import { enqueue, enqueueBulk, getQueue, QueueName } from '../../queues/index.js';
import { recordEvent } from '../events/index.js';
import { Lead, type LeadDoc } from '../leads/index.js';
import { emailKey, isSuppressed, suppressEmail, type SuppressionReason } from '../suppression/index.js';
import { classifySmtpError } from './delivery.js';
import { headerSafe, renderEmail, type RenderLead } from './render.js';
import { SendClaim } from './send-claim.model.js';
import { EmailSend, type SendDoc, type SendStatus } from './send.model.js';

type DeliveryRuntime = Pick<Runtime, 'config' | 'mailer' | 'trackingSecret'>;

/**
 * What follows an unsubscribe, hard bounce or complaint for one lead: mail already recorded but not
 * yet sent is marked suppressed (deliverSend would refuse it anyway; this keeps stats honest), and a
 * `lead-suppressed` job tells the sequence engine to end the lead's enrollments (a lower area never
 * calls up; should the job be lost, the engine exits the lead at its next step, which re-checks
 * suppression).
 */
export async function afterSuppression(
  leadId: string | Types.ObjectId,
  reason: SuppressionReason,
): Promise<void> {
  await EmailSend.updateMany(
    { leadId: new Types.ObjectId(String(leadId)), status: 'pending', marketing: true },
    { $set: { status: 'suppressed', error: `suppressed: ${reason}` } },
  );
  await enqueue(QueueName.leadSuppressed, { leadId: String(leadId), reason });
}

/** Suppresses an address and runs afterSuppression for every lead that has it. */
export async function suppressAddress(
  email: string,
  reason: SuppressionReason,
): Promise<{ created: boolean; leadIds: string[] }> {
  const { created } = await suppressEmail(email, reason);
  const leads = await Lead.find({ emailKey: emailKey(email) }, { _id: 1 }).lean();
  for (const l of leads) await afterSuppression(l._id, reason);
  return { created, leadIds: leads.map((l) => String(l._id)) };
}

/** What every email event records about its send. */
export function eventProperties(send: Pick<SendDoc, '_id' | 'sequenceKey' | 'stepId' | 'variant'>) {
  return {
    sendId: String(send._id),
    sequenceKey: send.sequenceKey ?? null,
    stepId: send.stepId ?? null,
    variant: send.variant ?? null,
  };
}

async function setStatus(
  sendId: Types.ObjectId,
  status: SendStatus,
  extra: Record<string, unknown> = {},
  onlyFrom?: SendStatus[],
): Promise<void> {
  await EmailSend.updateOne(onlyFrom ? { _id: sendId, status: { $in: onlyFrom } } : { _id: sendId }, {
    $set: { status, ...extra },
  });
}

const errorText = (err: unknown) => headerSafe(err instanceof Error ? err.message : String(err), 500);

/**
 * Inserts the send's claim. The unique `_id` makes one attempt win. An insert whose answer was
 * lost (a timeout, or the driver retrying a write that had in fact been applied and then meeting
 * it as a duplicate) is recognised by its owner token, so it neither sends twice nor gives up a
 * send it holds.
 */
async function claimSend(sendId: Types.ObjectId): Promise<'won' | 'taken'> {
  const owner = randomUUID();
  try {
    await SendClaim.collection.insertOne({ _id: sendId, owner, claimedAt: clock.now() });
    return 'won';
  } catch (err) {
    const held = await SendClaim.findById(sendId, { owner: 1 })
      .lean()
      .catch(() => undefined);
    if (held?.owner === owner) return 'won';
    if (isDuplicateKey(err)) return 'taken';
    throw err;
  }
}

/**
 * The `email` queue's processor: renders and sends one recorded send, at most once.
 *
 * The SMTP call happens only after this worker inserted the send's claim (unique `_id`), so two
 * workers, a retried job or a re-enqueued one can never both send. A send found `sending`, or
 * already claimed, means an earlier attempt stopped mid-send: it becomes `unknown`, not resent.
 * Transient failures release the claim and throw, so BullMQ retries with backoff.
 */
export async function deliverSend(
  rt: DeliveryRuntime,
  sendId: string,
  log: Logger,
): Promise<{ status: SendStatus | 'missing' }> {
  const result = await deliverOnce(rt, sendId, log);
  sendOutcomes.inc({ status: result.status });
  return result;
}

const sendOutcomes = counter('leadflow_email_deliveries_total', 'email deliveries by outcome', ['status']);

type Outcome = { status: SendStatus | 'missing' };
type DeliveryLead = Pick<LeadDoc, '_id' | 'email' | 'firstName' | 'lastName'> & RenderLead;

/** The steps of one delivery: guard, claim, render, send, then record what the server answered. */
async function deliverOnce(rt: DeliveryRuntime, sendId: string, log: Logger): Promise<Outcome> {
  const ready = await guardSend(sendId, log);
  if ('status' in ready) return ready;
  const { send, lead } = ready;
  if ((await claimSend(send._id)) === 'taken') {
    await setStatus(send._id, 'unknown', { error: 'already claimed by an earlier attempt' }, [
      'pending',
      'sending',
    ]);
    log.warn({ sendId }, 'send already claimed: outcome unknown, not sent again');
    return { status: 'unknown' };
  }
  await EmailSend.updateOne({ _id: send._id }, { $set: { status: 'sending' }, $inc: { attempts: 1 } });
  const rendered = await renderClaimed(rt, send, lead, log);
  if (!rendered) return { status: 'failed' };
  try {
    await transmit(rt, send, lead, rendered);
    return { status: 'sent' };
  } catch (err) {
    return recordSmtpFailure(rt, send, lead, err, log);
  }
}

/**
 * The guard: only a pending send for a live, mailable lead goes on. A send found `sending` means an
 * earlier attempt stopped mid-send: it becomes `unknown`, never sent again.
 */
async function guardSend(
  sendId: string,
  log: Logger,
): Promise<Outcome | { send: SendDoc; lead: DeliveryLead }> {
  const send = await EmailSend.findById(sendId).lean<SendDoc>();
  if (!send) {
    log.warn({ sendId }, 'send not found; nothing to do');
    return { status: 'missing' };
  }
  if (send.status === 'sending') {
    await setStatus(send._id, 'unknown', { error: 'found in sending on a later attempt' }, ['sending']);
    log.warn({ sendId }, 'send found in sending: outcome unknown, not sent again');
    return { status: 'unknown' };
  }
  if (send.status !== 'pending') return { status: send.status };
  const lead = await Lead.findById(send.leadId).lean<LeadDoc>();
  if (!lead || lead.mergedInto) {
    await setStatus(send._id, 'skipped', { error: lead ? 'lead was merged' : 'lead not found' }, ['pending']);
    return { status: 'skipped' };
  }
  if (send.marketing && (lead.unsubscribed || (await isSuppressed(lead.email)))) {
    await setStatus(send._id, 'suppressed', { error: 'address is unsubscribed or suppressed' }, ['pending']);
    return { status: 'suppressed' };
  }
  return { send, lead: lead as DeliveryLead };
}

/** Status first, claim last: a crash in between leaves a claim, which reads as unknown (safe). */
async function releaseClaim(send: SendDoc, err: unknown): Promise<void> {
  await setStatus(send._id, 'pending', { error: errorText(err) });
  await SendClaim.deleteOne({ _id: send._id });
}

/** Renders a claimed send; a permanent render error fails it, a transient one releases it and throws. */
async function renderClaimed(rt: DeliveryRuntime, send: SendDoc, lead: DeliveryLead, log: Logger) {
  try {
    return await renderEmail(rt, {
      lead,
      content: send.content ?? { subject: '' },
      sendId: String(send._id),
      marketing: send.marketing,
    });
  } catch (err) {
    if (err instanceof AppError && err.status < 500) {
      await setStatus(send._id, 'failed', { error: errorText(err) });
      log.error({ sendId: String(send._id), err }, 'send cannot be rendered');
      return undefined;
    }
    await releaseClaim(send, err);
    throw err;
  }
}

/** The SMTP call, then the send marked sent and its `email_sent` event. */
async function transmit(
  rt: DeliveryRuntime,
  send: SendDoc,
  lead: DeliveryLead,
  rendered: Awaited<ReturnType<typeof renderEmail>>,
): Promise<void> {
  const { 'Message-ID': messageId, ...headers } = rendered.headers;
  const name = headerSafe([lead.firstName, lead.lastName].filter(Boolean).join(' '), 200);
  const info = await rt.mailer.send({
    from: rt.config.mailFrom,
    to: name ? { name, address: lead.email } : lead.email,
    subject: rendered.subject,
    html: rendered.html,
    text: rendered.text,
    headers,
    messageId,
  });
  const sentAt = clock.now();
  // the keyed event first, the status last: a send that reads `sent` is never retried, so its
  // timeline entry (and the score and reports built on it) must already be there
  await recordEvent({
    leadId: lead._id,
    type: 'email_sent',
    occurredAt: sentAt,
    properties: eventProperties(send),
    key: `email_sent:${String(send._id)}`,
  });
  await setStatus(send._id, 'sent', { messageId: info.messageId, sentAt, error: null });
}

/** What the server's refusal means: retry later (throws), a hard bounce, a rejection, or unknown. */
async function recordSmtpFailure(
  rt: DeliveryRuntime,
  send: SendDoc,
  lead: DeliveryLead,
  err: unknown,
  log: Logger,
): Promise<Outcome> {
  const kind = classifySmtpError(err, rt.mailer.kind);
  log.warn({ sendId: String(send._id), err, kind }, 'smtp send failed');
  switch (kind) {
    case 'retry':
      await releaseClaim(send, err);
      throw err;
    case 'bounce':
      // The consequences first, the send's outcome last: a send that reads `bounced` has its
      // address suppressed, its event and its follow-ups. Each step is idempotent; a crash before
      // the last leaves the send `sending`, which the reconciler records as unknown (never resent),
      // while the address is already suppressed. The other order could leave a bounced address
      // mailable for good.
      await suppressEmail(lead.email, 'bounce');
      await recordEvent({
        leadId: lead._id,
        type: 'email_bounce',
        properties: { ...eventProperties(send), bounce: 'hard' },
        key: `email_bounce:${String(send._id)}`,
      });
      await afterSuppression(lead._id, 'bounce');
      await setStatus(send._id, 'bounced', { error: errorText(err) });
      return { status: 'bounced' };
    case 'rejected':
      await setStatus(send._id, 'failed', { error: errorText(err) });
      return { status: 'failed' };
    default:
      await setStatus(send._id, 'unknown', { error: errorText(err) });
      return { status: 'unknown' };
  }
}

/**
 * Repairs what Redis may have lost: sends `pending` for longer than `olderThanMs` whose job is
 * gone (or finished) are enqueued again, and sends left `sending` with no live job become
 * `unknown` (a worker died mid-send). MongoDB stays the record of truth. A send with a live job is
 * never touched, so the wait only has to outlast an SMTP call whose job Redis lost while a worker
 * still holds it: 2 minutes, or twice SMTP_TIMEOUT_MS when that is longer (it was 10 minutes,
 * which kept a flushed Redis's sends in flight that long).
 */
export async function reconcileSends(
  rt: Pick<Runtime, 'logger'> & { config?: { smtpTimeoutMs?: number } },
  opts: { olderThanMs?: number; batch?: number } = {},
): Promise<{ requeued: number; unknown: number }> {
  const wait = opts.olderThanMs ?? Math.max(2 * 60_000, 2 * (rt.config?.smtpTimeoutMs ?? 0));
  const before = new Date(Date.now() - wait);
  const batch = opts.batch ?? 1000;
  const queue = getQueue(QueueName.email);
  const liveStates = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

  const pending = await EmailSend.find({ status: 'pending', updatedAt: { $lte: before } }, { _id: 1 })
    .sort({ updatedAt: 1 })
    .limit(batch)
    .lean();
  const requeue: string[] = [];
  for (const s of pending) {
    const id = String(s._id);
    const job = await queue.getJob(id);
    if (job && liveStates.has(await job.getState())) continue;
    // a finished job keeps its id in Redis and would swallow the new one
    if (job) await job.remove().catch(() => undefined);
    requeue.push(id);
  }
  await enqueueBulk(
    QueueName.email,
    requeue.map((sendId) => ({ payload: { sendId }, opts: { jobId: sendId } })),
  );

  const sending = await EmailSend.find({ status: 'sending', updatedAt: { $lte: before } }, { _id: 1 })
    .limit(batch)
    .lean();
  let unknown = 0;
  for (const s of sending) {
    const job = await queue.getJob(String(s._id));
    if (job && (await job.getState()) === 'active') continue;
    await setStatus(s._id, 'unknown', { error: 'left in sending by a stopped worker' }, ['sending']);
    unknown++;
  }
  if (requeue.length || unknown) rt.logger.info({ requeued: requeue.length, unknown }, 'sends reconciled');
  return { requeued: requeue.length, unknown };
}
