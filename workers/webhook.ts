import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { deliverWebhook } from '../src/modules/webhooks/index.js';
import { QueueName } from '../src/queues/index.js';

/** Makes webhook delivery attempts (the `webhook` queue); retries are delayed jobs of their own. */
export const startWebhookWorker = (rt: Runtime) =>
  runWorker(
    QueueName.webhook,
    (payload, { log }) => deliverWebhook(rt, payload.deliveryId, log),
    workerOptions(rt),
  );

if (isMain(import.meta.url)) startWebhookWorker(await startRuntime('worker:webhook'));
