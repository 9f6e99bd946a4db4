import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { maintenanceProcessor } from '../src/modules/maintenance/index.js';
import { QueueName } from '../src/queues/index.js';

/** Runs the periodic tasks the scheduler enqueues (reconcile, decay, SLA, heartbeat). */
export const startMaintenanceWorker = (rt: Runtime) =>
  runWorker(QueueName.maintenance, maintenanceProcessor(rt), workerOptions(rt, 1));

if (isMain(import.meta.url)) startMaintenanceWorker(await startRuntime('worker:maintenance'));
