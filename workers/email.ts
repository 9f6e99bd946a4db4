import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { emailProcessor } from '../src/modules/email/index.js';
import { QueueName } from '../src/queues/index.js';

/** Renders and sends recorded sends (the `email` queue), at most once each. */
export const startEmailWorker = (rt: Runtime) =>
  runWorker(QueueName.email, emailProcessor(rt), workerOptions(rt));

if (isMain(import.meta.url)) startEmailWorker(await startRuntime('worker:email'));
