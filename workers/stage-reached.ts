import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { stageReachedProcessor } from '../src/modules/sequences/index.js';
import { QueueName } from '../src/queues/index.js';

/** Enrolls leads into the sequences a lifecycle stage triggers; ends nurture on qualification. */
export const startStageReachedWorker = (rt: Runtime) =>
  runWorker(QueueName.stageReached, stageReachedProcessor(rt), workerOptions(rt));

if (isMain(import.meta.url)) startStageReachedWorker(await startRuntime('worker:stage-reached'));
