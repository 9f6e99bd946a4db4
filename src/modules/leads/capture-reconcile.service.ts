import { clock } from '../../lib/clock.js';
import { insertManyRefusingDuplicates } from '../../lib/mongo.js';
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

/**
 * Records these captures as waiting for their lead-captured jobs: one unordered insert, by lead id.
 * A lead that already has a marker keeps it (a job for it is on its way, and the reconciler
 * catches up if not): an insert is FerretDB's cheapest write, and many concurrent repeats of one
 * address stay cheap.
 */
export async function markCapturesPending(payloads: Payload<'lead-captured'>[], at: Date): Promise<void> {
  const docs = [...new Map(payloads.map((p) => [p.leadId, { _id: p.leadId, payload: p, at }])).values()];
  // a lead captured again before its last capture was processed already has its marker: read
  // first, so the insert meets no duplicate (FerretDB v1 retries such a batch one document at a
  // time); a marker written in between is still refused by its `_id`
  const marked = new Set(
    (await PendingCapture.find({ _id: { $in: docs.map((d) => d._id) } }, { _id: 1 }).lean()).map((m) =>
      String(m._id),
    ),
  );
  await insertManyRefusingDuplicates(
    PendingCapture.collection,
    docs.filter((d) => !marked.has(d._id)),
  );
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
