import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { scoringProcessor } from '../src/modules/scoring/index.js';
import { QueueName } from '../src/queues/index.js';

/** Scores recorded events in batches, runs decay chunks and rescoring (one writer per lead). */
export const startScoringWorker = (rt: Runtime) =>
  runWorker(QueueName.scoring, scoringProcessor(rt), workerOptions(rt));

if (isMain(import.meta.url)) startScoringWorker(await startRuntime('worker:scoring'));
