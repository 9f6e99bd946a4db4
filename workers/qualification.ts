import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { qualificationProcessor } from '../src/modules/qualification/index.js';
import { QueueName } from '../src/queues/index.js';

/** Evaluates the qualification agreement for leads whose score, BANT or grade changed. */
export const startQualificationWorker = (rt: Runtime) =>
  runWorker(QueueName.qualification, qualificationProcessor(rt), workerOptions(rt));

if (isMain(import.meta.url)) startQualificationWorker(await startRuntime('worker:qualification'));
