import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { qualificationSweepProcessor } from '../src/modules/qualification/index.js';
import { QueueName } from '../src/queues/index.js';

/** Re-evaluates open leads after an agreement change, one chunk at a time. */
export const startQualificationSweepWorker = (rt: Runtime) =>
  runWorker(QueueName.qualificationSweep, qualificationSweepProcessor(rt), workerOptions(rt, 1));

if (isMain(import.meta.url)) startQualificationSweepWorker(await startRuntime('worker:qualification-sweep'));
