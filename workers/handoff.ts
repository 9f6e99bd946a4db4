import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { handoffProcessor } from '../src/modules/handoff/index.js';
import { QueueName } from '../src/queues/index.js';

/** Converts, assigns and notifies for qualified leads (the `handoff` queue), once per qualification. */
export const startHandoffWorker = (rt: Runtime) =>
  runWorker(QueueName.handoff, handoffProcessor(rt), workerOptions(rt));

if (isMain(import.meta.url)) startHandoffWorker(await startRuntime('worker:handoff'));
