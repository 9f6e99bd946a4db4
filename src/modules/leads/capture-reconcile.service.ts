import { clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { enqueueBulk, type Payload } from '../../queues/index.js';
import { PendingCapture } from './pending-capture.model.js';

/** How long a capture may wait for its lead-captured job before the reconciler enqueues it again. */
export const captureGraceMs = 60_000;

/**
 * The job id of a capture's lead-captured job: the lead and the capture's time, so the
 * reconciler enqueuing it again adds nothing while the first job still exists.
 */
export function captureJobId(leadId: string, at: Date): string {
  return `capture-${leadId}-${at.getTime()}`;
}

/** Records these captures as waiting for their lead-captured jobs (one bulk upsert, by lead id). */
export async function markCapturesPending(payloads: Payload<'lead-captured'>[], at: Date): Promise<void> {
  if (payloads.length === 0) return;
  const ops = payloads.map((payload) => ({
    updateOne: { filter: { _id: payload.leadId }, update: { $set: { payload, at } }, upsert: true },
  }));
  try {
    await PendingCapture.bulkWrite(ops, { ordered: false });
  } catch (err) {
    // concurrent upserts of one lead's marker race on `_id`: one of them wrote it, which is all we need
    const errors = (err as { writeErrors?: { code?: number }[] }).writeErrors ?? [];
    if (errors.length === 0 || errors.some((e) => e.code !== 11000)) throw err;
  }
}

/** The lead-captured job for this lead was processed. */
export async function completeCapture(leadId: string): Promise<void> {
  await PendingCapture.deleteOne({ _id: leadId });
}

/** An erased lead has nothing left to announce. */
export async function forgetPendingCaptures(leadIds: string[]): Promise<void> {
  if (leadIds.length) await PendingCapture.deleteMany({ _id: { $in: leadIds } });
}

/**
 * No lead left behind: captures whose lead-captured job never ran (Redis refused the enqueue and
 * the client answered 503 did not retry, or the process died in between) get their job again.
 * Reads only the markers older than `olderThanMs` (a small collection: captures in flight).
 */
export async function reconcileCaptures(
  log?: Logger,
  opts: { olderThanMs?: number; limit?: number } = {},
): Promise<{ captures: number }> {
  const before = new Date(clock.now().getTime() - (opts.olderThanMs ?? captureGraceMs));
  const stale = await PendingCapture.find({ at: { $lt: before } })
    .sort({ at: 1 })
    .limit(opts.limit ?? 1000)
    .lean<{ _id: string; payload: Payload<'lead-captured'>; at: Date }[]>();
  await enqueueBulk(
    'lead-captured',
    stale.map((m) => ({ payload: m.payload, opts: { jobId: captureJobId(m._id, m.at) } })),
  );
  if (stale.length) log?.info({ captures: stale.length }, 'lead-captured jobs enqueued again');
  return { captures: stale.length };
}
