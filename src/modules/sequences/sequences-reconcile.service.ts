import { clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import { enqueue, enqueueBulk, getQueue } from '../../queues/index.js';
import { EmailSend } from '../email/index.js';
import { Enrollment } from './enrollment.model.js';
import { nurtureJobId } from './enrollments.service.js';

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
  const enrollments = await requeueDueSteps(limit);
  const pending = await EmailSend.find({ status: 'pending', enrollmentId: { $ne: null } }, { _id: 1 })
    .limit(limit)
    .lean();
  await enqueueBulk(
    'email',
    pending.map((s) => ({ payload: { sendId: String(s._id) }, opts: { jobId: String(s._id) } })),
  );
  if (enrollments || pending.length) log?.info({ enrollments, sends: pending.length }, 'reconciled');
  return { enrollments, sends: pending.length };
}

/** Gives every due step its nurture job back; returns how many steps were due. */
async function requeueDueSteps(limit: number): Promise<number> {
  const due = await Enrollment.find(
    { state: 'active', nextRunAt: { $lte: clock.now() } },
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
        // its delay may run out between getState and promote: then it is already waiting or
        // running, which is what promoting wanted (BullMQ: "is not in the delayed state")
        await job.promote().catch(async (err: unknown) => {
          if ((await job.getState()) === 'delayed') throw err;
        });
        continue;
      }
      if (state !== 'completed' && state !== 'failed') continue;
      // a finished job for a step still due (it ran too early, or gave up): run it again
      await job.remove();
    }
    await enqueue('nurture', { enrollmentId: String(e._id) }, { jobId });
  }
  return due.length;
}
