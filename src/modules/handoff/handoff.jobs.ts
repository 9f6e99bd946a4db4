import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import { clock } from '../../lib/clock.js';
import type { Payload } from '../../queues/index.js';
import { HandoffRequest, backfillOpenFlag, openRequestsFilter } from '../qualification/index.js';
import { assignWaitingHandoffs, processHandoffRequest, type HandoffRuntime } from './handoff.service.js';

/** The `handoff` queue's processor. */
export function handoffProcessor(rt: HandoffRuntime) {
  return (payload: Payload<'handoff'>, { log }: { log: Logger }) =>
    processHandoffRequest(rt, payload.requestId, log);
}

/**
 * The reconcile task's handoff pass (MongoDB is the record of truth): requests no worker finished
 * (a lost job, a killed worker, a notification left mid-send) are processed again, which resumes
 * from their recorded steps; handoffs waiting for an owner get one if a rep can take them.
 */
export async function reconcileHandoffs(
  rt: Pick<Runtime, 'config' | 'mailer' | 'trackingSecret'>,
  log: Logger,
  opts: { olderThanMs?: number; batch?: number } = {},
) {
  const before = new Date(clock.now().getTime() - (opts.olderThanMs ?? 60_000));
  await backfillOpenFlag();
  const open = await HandoffRequest.find(openRequestsFilter(before), { _id: 1 })
    .sort({ qualifiedAt: 1 })
    .limit(opts.batch ?? 200)
    .lean();
  let processed = 0;
  for (const r of open) {
    try {
      await processHandoffRequest(rt, String(r._id), log);
      processed++;
    } catch (err) {
      log.warn({ err, requestId: r._id }, 'handoff reconcile failed for one request');
    }
  }
  const assigned = await assignWaitingHandoffs(rt, log);
  if (processed || assigned) log.info({ processed, assigned }, 'handoffs reconciled');
  return { processed, assigned };
}
