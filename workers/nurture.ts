import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { nurtureProcessor } from '../src/modules/sequences/index.js';
import { QueueName } from '../src/queues/index.js';

/** Advances enrollments step by step (delayed jobs, one per due step). */
export const startNurtureWorker = (rt: Runtime) =>
  runWorker(QueueName.nurture, nurtureProcessor(rt), workerOptions(rt));

if (isMain(import.meta.url)) startNurtureWorker(await startRuntime('worker:nurture'));
