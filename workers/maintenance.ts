import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker } from '../src/lib/worker.js';
import { maintenanceProcessor } from '../src/modules/maintenance/maintenance.jobs.js';
import { QueueName } from '../src/queues/index.js';

/** Runs the periodic tasks the scheduler enqueues (reconcile, decay, SLA, heartbeat). */
export const startMaintenanceWorker = (rt: Runtime) =>
  runWorker(QueueName.maintenance, maintenanceProcessor(rt), {
    redisUrl: rt.config.redisUrl,
    queuePrefix: rt.config.queuePrefix,
    logger: rt.logger,
    concurrency: 1,
  });

if (isMain(import.meta.url)) startMaintenanceWorker(await startRuntime('worker:maintenance'));
