import type { Payload } from '../../queues/index.js';
import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import { clock } from '../../lib/clock.js';
import { writeSetting } from '../../lib/settings.js';
import { reconcileSends } from '../email/index.js';
import { purgeAnonymousVisits } from '../events/index.js';
import { purgeScoredMarks, reconcileScoring, startDecayPass } from '../scoring/index.js';
import { reconcileSequences } from '../sequences/index.js';
import { purgeIdempotencyKeys, reconcileCaptures } from '../leads/index.js';
import { reconcileQualification } from '../qualification/index.js';
import { checkSla, reconcileHandoffs } from '../handoff/index.js';
import { purgeWebhookHistory, reconcileWebhookDeliveries } from '../webhooks/index.js';

type Task = Payload<'maintenance'>['task'];
type TaskFn = (rt: Runtime, log: Logger) => Promise<unknown>;

/**
 * What each maintenance task does. Areas add theirs here (reconcile: nurture; decay: scoring;
 * sla: handoff); a task with no entry yet is logged and acknowledged.
 */
export const maintenanceTasks: Partial<Record<Task, TaskFn>> = {
  /** proves the scheduler → queue → worker path works; `leadflow status` shows the last beat */
  heartbeat: async () => writeSetting('scheduler.heartbeat', clock.now().toISOString()),
  /**
   * rebuild work from MongoDB (survives a flushed Redis): captures whose lead-captured job was
   * lost, due nurture steps and pending sends, then email's own pass (sends a stopped worker left
   * in `sending` become `unknown`), webhook deliveries whose next attempt's job was lost, and
   * handoff requests not taken a minute after qualification
   */
  reconcile: async (rt, log) => ({
    captures: await reconcileCaptures(log),
    sequences: await reconcileSequences(rt, log),
    sends: await reconcileSends(rt),
    handoffs: await reconcileHandoffs(rt, log),
    webhooks: await reconcileWebhookDeliveries(rt),
    qualification: await reconcileQualification(log),
    scoring: await reconcileScoring(),
  }),
  /** overdue handoffs: a reminder, then the next rep, then expired */
  sla: async (rt, log) => checkSla(rt, log),
  /** scoring's decay pass: enqueues chunks of the leads whose score is above zero */
  decay: async () => startDecayPass(),
  /**
   * expired Idempotency-Key claims, old anonymous visits, webhook deliveries finished over 30 days
   * ago, scoring's marks older than a day (no TTL index: FerretDB v1 has none)
   */
  cleanup: async () => ({
    idempotencyKeysPurged: await purgeIdempotencyKeys(),
    anonymousVisitsPurged: await purgeAnonymousVisits(clock.now()),
    webhookHistoryPurged: await purgeWebhookHistory(clock.now()),
    scoredMarksPurged: await purgeScoredMarks(),
  }),
};

export function maintenanceProcessor(rt: Runtime) {
  return async (payload: Payload<'maintenance'>, { log }: { log: Logger }) => {
    const fn = maintenanceTasks[payload.task];
    if (!fn) {
      log.debug({ task: payload.task }, 'no handler for this maintenance task yet');
      return { task: payload.task, handled: false };
    }
    return { task: payload.task, handled: true, result: await fn(rt, log) };
  };
}
