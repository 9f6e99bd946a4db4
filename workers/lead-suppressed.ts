import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { leadSuppressedProcessor } from '../src/modules/sequences/index.js';
import { QueueName } from '../src/queues/index.js';

/** Ends the enrollments of a lead whose address was suppressed (unsubscribe, bounce, complaint). */
export const startLeadSuppressedWorker = (rt: Runtime) =>
  runWorker(QueueName.leadSuppressed, leadSuppressedProcessor(rt), workerOptions(rt));

if (isMain(import.meta.url)) startLeadSuppressedWorker(await startRuntime('worker:lead-suppressed'));
