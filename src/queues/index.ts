import { Queue, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { createClientRedis } from '../lib/redis.js';

/**
 * Every queue leadflow uses. The values are stored in Redis keys and in jobs in flight: never
 * rename one; add a new name and drain the old one instead.
 */
export const QueueName = {
  /** a lead was created or merged by a form, the API or an import: nurture and scoring react */
  leadCaptured: 'lead-captured',
  /** advance one enrollment to its next due step */
  nurture: 'nurture',
  /** render and send one recorded send */
  email: 'email',
  /** score recorded events */
  scoring: 'scoring',
  /** evaluate the qualification agreement for a lead or a batch (after a score, BANT, grade or agreement change) */
  qualification: 'qualification',
  /** re-evaluate open leads against a new agreement version, one chunk of leads per job */
  qualificationSweep: 'qualification-sweep',
  /** a lead reached a lifecycle stage (e.g. `mql`): stage-triggered sequences enroll it */
  stageReached: 'stage-reached',
  /** convert, assign and notify for one handoff request (a qualified lead) */
  handoff: 'handoff',
  /** deliver one outbound webhook attempt */
  webhook: 'webhook',
  /**
   * an address of this lead was suppressed (unsubscribe, bounce, complaint): its enrollments end.
   * Written by email; the sequence engine reacts (and exits such a lead at its next step anyway).
   */
  leadSuppressed: 'lead-suppressed',
  /** periodic work the scheduler asks for (reconcile, decay, SLA) */
  maintenance: 'maintenance',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

const objectId = z.string().regex(/^[a-f0-9]{24}$/, 'must be an id');

/** Payload schemas, one per queue. Ids only: personal data never sits in Redis. */
export const payloadSchemas = {
  [QueueName.leadCaptured]: z.object({
    leadId: objectId,
    via: z.enum(['form', 'api', 'import']),
    created: z.boolean(),
    formId: z.string().optional(),
    sequenceKey: z.string().optional(),
    source: z.string().optional(),
  }),
  [QueueName.nurture]: z.object({ enrollmentId: objectId }),
  [QueueName.email]: z.object({ sendId: objectId }),
  /**
   * scoring's jobs: recorded events to score; leads to recompute (score from the ledger, grade);
   * one chunk of a decay pass; a rescoring run after a rule change
   */
  [QueueName.scoring]: z.union([
    z.strictObject({ eventIds: z.array(objectId).min(1).max(1000) }),
    z.strictObject({ leadIds: z.array(objectId).min(1).max(1000) }),
    z.strictObject({
      decay: z.strictObject({
        passId: z.string().min(1).max(100),
        leadIds: z.array(objectId).min(1).max(5000),
      }),
    }),
    z.strictObject({ rescore: z.strictObject({ version: z.number().int().min(1) }) }),
  ]),
  /** one lead, or a batch of leads (a scoring round's changed leads, a sweep chunk) */
  [QueueName.qualification]: z.union([
    z.strictObject({ leadId: objectId }),
    z.strictObject({ leadIds: z.array(objectId).min(1).max(1000) }),
  ]),
  /** agreement `version`; `after`: the last lead id of the previous chunk */
  [QueueName.qualificationSweep]: z.object({
    version: z.number().int().min(1),
    after: objectId.optional(),
  }),
  [QueueName.stageReached]: z.object({
    leadId: objectId,
    stage: z.enum(['subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer']),
  }),
  /** a HandoffRequest `_id`: `<leadId>:<cycle>` */
  [QueueName.handoff]: z.object({
    requestId: z.string().regex(/^[a-f0-9]{24}:[0-9]{1,6}$/, 'must be a handoff request id'),
  }),
  [QueueName.webhook]: z.object({ deliveryId: z.string().min(1).max(200) }),
  [QueueName.leadSuppressed]: z.object({
    leadId: objectId,
    reason: z.enum(['unsubscribe', 'bounce', 'complaint', 'manual', 'erased']),
  }),
  [QueueName.maintenance]: z.object({ task: z.enum(['reconcile', 'decay', 'sla', 'heartbeat', 'cleanup']) }),
} satisfies Record<QueueName, z.ZodType>;

export type Payload<Q extends QueueName> = z.infer<(typeof payloadSchemas)[Q]>;

/** Retries with backoff for transient failures; completed jobs are trimmed, failed ones kept a week. */
export const defaultJobOptions: JobsOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 3600, count: 5000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

type Registry = { connection: Redis; prefix: string; queues: Map<QueueName, Queue> };
let registry: Registry | undefined;

/**
 * The BullMQ key prefix for a QUEUE_PREFIX: wrapped in braces, a Redis Cluster hash tag, so every
 * key of every queue of one install lands in one slot (BullMQ's Lua scripts need that).
 */
export function bullPrefix(queuePrefix: string): string {
  return `{${queuePrefix}}`;
}

/** Opens the producer connection. Call once per process before `enqueue`. */
export function initQueues(redisUrl: string, queuePrefix: string): Redis {
  if (registry) return registry.connection;
  const connection = createClientRedis(redisUrl);
  registry = { connection, prefix: bullPrefix(queuePrefix), queues: new Map() };
  return connection;
}

function requireRegistry(): Registry {
  if (!registry) throw new Error('initQueues() was not called');
  return registry;
}

/** The producer-side Queue for `name` (created once). */
export function getQueue(name: QueueName): Queue {
  const r = requireRegistry();
  let q = r.queues.get(name);
  if (!q) {
    q = new Queue(name, { connection: r.connection, prefix: r.prefix, defaultJobOptions });
    r.queues.set(name, q);
  }
  return q;
}

export function queuePrefix(): string {
  return requireRegistry().prefix;
}

/**
 * Adds a job after checking its payload against the queue's schema. Give `jobId` where a
 * duplicate job would act twice; the guarantee itself still lives in MongoDB.
 */
export async function enqueue<Q extends QueueName>(
  name: Q,
  payload: Payload<Q>,
  opts: JobsOptions = {},
): Promise<void> {
  const data = payloadSchemas[name].parse(payload);
  await getQueue(name).add(name, data, opts);
}

/** Adds many jobs to one queue in one round trip. */
export async function enqueueBulk<Q extends QueueName>(
  name: Q,
  jobs: { payload: Payload<Q>; opts?: JobsOptions }[],
): Promise<void> {
  if (jobs.length === 0) return;
  const schema = payloadSchemas[name];
  await getQueue(name).addBulk(jobs.map((j) => ({ name, data: schema.parse(j.payload), opts: j.opts })));
}

/** Waiting, delayed, active and failed counts per queue (for /metrics and the CLI). */
export async function queueDepths(): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const name of Object.values(QueueName)) {
    out[name] = await getQueue(name).getJobCounts('waiting', 'delayed', 'active', 'failed', 'prioritized');
  }
  return out;
}

/**
 * Deletes every Redis key of one install's queues (`queuePrefix`): tests and benches clean up after
 * themselves with it. Never call it on a prefix that live workers use.
 */
export async function deleteQueueKeys(redisUrl: string, queuePrefix: string): Promise<void> {
  // an offline queue, unlike the fail-fast producer: the scan may start before the connection is up
  const redis = new Redis(redisUrl);
  try {
    const stream = redis.scanStream({ match: `*${queuePrefix}*`, count: 500 });
    for await (const keys of stream as AsyncIterable<string[]>) if (keys.length) await redis.unlink(...keys);
  } finally {
    redis.disconnect();
  }
}

export async function closeQueues(): Promise<void> {
  if (!registry) return;
  const r = registry;
  registry = undefined;
  await Promise.all([...r.queues.values()].map((q) => q.close()));
  r.connection.disconnect();
}
