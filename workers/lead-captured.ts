import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { leadCapturedProcessor } from '../src/modules/sequences/index.js';
import { QueueName } from '../src/queues/index.js';

/** Enrolls newly captured leads into the sequences their form or source triggers. */
export const startLeadCapturedWorker = (rt: Runtime) =>
  runWorker(QueueName.leadCaptured, leadCapturedProcessor(rt), workerOptions(rt));

if (isMain(import.meta.url)) startLeadCapturedWorker(await startRuntime('worker:lead-captured'));
