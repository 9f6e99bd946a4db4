import { Worker, UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { payloadSchemas, bullPrefix, type Payload, type QueueName } from '../queues/index.js';
import type { Logger } from './logger.js';
import type { Runtime } from './runtime.js';
import { createWorkerRedis } from './redis.js';
import { onShutdown } from './shutdown.js';

export { UnrecoverableError };

export type Processor<Q extends QueueName> = (
  payload: Payload<Q>,
  ctx: { job: Job; log: Logger },
) => Promise<unknown>;

export type WorkerOptions = {
  redisUrl: string;
  queuePrefix: string;
  logger: Logger;
  concurrency?: number;
  /** A connection to reuse instead of opening one (tests). */
  connection?: Redis;
};

/**
 * Runs `processor` for every job of `queue`: validates the payload (a malformed one fails for good
 * with UnrecoverableError instead of retrying), logs with a child logger per job, and on SIGTERM
 * stops taking jobs and waits for the ones in hand (BullMQ's Worker.close()).
 */
export function runWorker<Q extends QueueName>(
  queue: Q,
  processor: Processor<Q>,
  opts: WorkerOptions,
): Worker {
  const log = opts.logger.child({ queue });
  const connection = opts.connection ?? createWorkerRedis(opts.redisUrl);
  const schema = payloadSchemas[queue];
  const worker = new Worker(
    queue,
    async (job) => {
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) {
        throw new UnrecoverableError(
          `invalid payload: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
        );
      }
      const jobLog = log.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
      return processor(parsed.data as Payload<Q>, { job, log: jobLog });
    },
    { connection, prefix: bullPrefix(opts.queuePrefix), concurrency: opts.concurrency ?? 8, autorun: true },
  );
  worker.on('failed', (job, err) => {
    const final = !job || err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    log[final ? 'error' : 'warn']({ err, jobId: job?.id, attempts: job?.attemptsMade }, 'job failed');
  });
  worker.on('error', (err) => log.error({ err }, 'worker error'));
  onShutdown(`worker:${queue}`, async () => {
    await worker.close();
    if (!opts.connection) connection.disconnect();
  });
  log.debug('worker started');
  return worker;
}

/** The options every worker process derives from its runtime (WORKER_CONCURRENCY unless given). */
export function workerOptions(rt: Pick<Runtime, 'config' | 'logger'>, concurrency?: number): WorkerOptions {
  return {
    redisUrl: rt.config.redisUrl,
    queuePrefix: rt.config.queuePrefix,
    logger: rt.logger,
    concurrency: concurrency ?? rt.config.workerConcurrency,
  };
}
