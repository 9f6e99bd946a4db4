import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { enqueue, getQueue, type Payload } from '../../queues/index.js';
import { Lead } from '../leads/index.js';
import { QualificationAgreement, type AgreementDoc } from './agreement.model.js';
import { sweepJobId } from './agreement.service.js';
import {
  HandoffRequest,
  backfillOpenFlag,
  handoffJobId,
  openRequestsFilter,
  type HandoffRequestDoc,
} from './handoff-request.model.js';
import { applyQualification, leadsByIds } from './qualification.service.js';

/** Leads handed out per sweep job. */
export const sweepChunk = 500;

/**
 * One chunk of a new agreement version's re-evaluation: the next open leads (not qualified,
 * converted, unqualified or merged) by `_id`, each given a `qualification` job; then the next
 * chunk's job. A version superseded meanwhile stops: the newer one sweeps every lead itself.
 */
export async function sweepAgreement(
  payload: Payload<'qualification-sweep'>,
  log?: Logger,
): Promise<{ enqueued: number; done: boolean }> {
  const { version, after } = payload;
  const latest = await QualificationAgreement.findOne({}, { _id: 1 }).sort({ _id: -1 }).lean();
  const now = clock.now();
  if (!latest || latest._id !== version) {
    await QualificationAgreement.updateOne(
      { _id: version },
      { $set: { 'sweep.status': 'done', 'sweep.finishedAt': now, 'sweep.updatedAt': now } },
    );
    return { enqueued: 0, done: true };
  }
  const filter: Record<string, unknown> = {
    mergedInto: null,
    status: { $nin: ['qualified', 'converted', 'unqualified'] },
  };
  if (after) filter._id = { $gt: new Types.ObjectId(after) };
  const leads = await Lead.find(filter, { _id: 1 }).sort({ _id: 1 }).limit(sweepChunk).lean();
  // the chunk is one batch job; a retried chunk (same cursor) adds no second job
  if (leads.length)
    await enqueue(
      'qualification',
      { leadIds: leads.map((l) => String(l._id)) },
      { jobId: `qual-v${version}-after-${after ?? 'start'}` },
    );
  const cursor = leads.length ? String(leads[leads.length - 1]!._id) : (after ?? null);
  const done = leads.length < sweepChunk;
  const agreement = await QualificationAgreement.findById(version, { sweep: 1 }).lean<AgreementDoc>();
  await QualificationAgreement.updateOne(
    { _id: version },
    {
      $set: {
        'sweep.cursor': cursor,
        'sweep.enqueued': (agreement?.sweep?.enqueued ?? 0) + leads.length,
        'sweep.updatedAt': now,
        ...(done ? { 'sweep.status': 'done', 'sweep.finishedAt': now } : {}),
      },
    },
  );
  if (!done) {
    await enqueue('qualification-sweep', { version, after: cursor! }, { jobId: sweepJobId(version, cursor) });
  }
  log?.debug({ version, enqueued: leads.length, done }, 'agreement sweep chunk');
  return { enqueued: leads.length, done };
}

type RequestDoc = HandoffRequestDoc & { _id: string };

/**
 * The qualification reconciler (part of the maintenance `reconcile` task): every HandoffRequest
 * that handoff has not taken a minute after it was written gets its `handoff` job back, and its
 * lead is brought in line with it when a crash or lost write left it behind. A stalled agreement
 * sweep (no progress for two minutes) resumes from its cursor.
 */
export async function reconcileQualification(
  log?: Logger,
  opts: { limit?: number } = {},
): Promise<{ requests: number; repaired: number; sweeps: number }> {
  const now = clock.now();
  await backfillOpenFlag();
  const requests = await HandoffRequest.find(openRequestsFilter(new Date(now.getTime() - 60_000)))
    .sort({ open: 1, qualifiedAt: 1 })
    .limit(opts.limit ?? 1000)
    .lean<RequestDoc[]>();
  const leads = await leadsByIds(requests.map((r) => r.leadId));
  const queue = getQueue('handoff');
  let repaired = 0;
  for (const r of requests) {
    const lead = leads.get(String(r.leadId));
    if (!lead) continue;
    const shown = (lead.qualification as { cycle?: number } | null)?.cycle ?? 0;
    const behind =
      shown < r.cycle || (shown === r.cycle && lead.status !== 'qualified' && lead.status !== 'converted');
    if (behind && !lead.mergedInto) {
      await applyQualification(lead, r);
      repaired++;
    }
    const jobId = handoffJobId(r._id);
    const job = await queue.getJob(jobId);
    if (job) {
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed') continue;
      // the job ran or gave up, yet the request is still not taken: run it again
      await job.remove();
    }
    await enqueue('handoff', { requestId: r._id }, { jobId });
  }
  const sweeps = await resumeStalledSweep(now);
  if (requests.length || sweeps)
    log?.info({ requests: requests.length, repaired, sweeps }, 'qualification reconciled');
  return { requests: requests.length, repaired, sweeps };
}

async function resumeStalledSweep(now: Date): Promise<number> {
  const current = await QualificationAgreement.findOne({}, { sweep: 1 })
    .sort({ _id: -1 })
    .lean<AgreementDoc>();
  const sweep = current?.sweep;
  if (!current || !sweep || sweep.status !== 'running') return 0;
  if (sweep.updatedAt && sweep.updatedAt.getTime() > now.getTime() - 120_000) return 0;
  const after = sweep.cursor ?? undefined;
  const minute = Math.floor(now.getTime() / 60_000);
  await enqueue(
    'qualification-sweep',
    { version: current._id, ...(after ? { after } : {}) },
    { jobId: `${sweepJobId(current._id, after)}-r${minute}` },
  );
  return 1;
}
