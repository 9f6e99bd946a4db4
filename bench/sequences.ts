/**
 * Sequence engine throughput: N leads enrolled into a one-step sequence, each step advanced by the
 * nurture worker (exit checks, send window, EmailSend insert, email job) until N sends exist.
 * Baseline, same run, same servers: N BullMQ jobs whose processor does one raw driver insert, the
 * least I/O a step could cost. Run: `npx tsx bench/sequences.ts [--leads 200] [--runs 3]`.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import mongoose from 'mongoose';
import type { ReadyConfig } from '../src/config.js';
import { createLogger } from '../src/lib/logger.js';
import { connectRuntime } from '../src/lib/runtime.js';
import { runWorker } from '../src/lib/worker.js';
import { shutdown } from '../src/lib/shutdown.js';
import { emailKey, Lead } from '../src/modules/leads/index.js';
import { enrollLead, putSequence } from '../src/modules/sequences/index.js';
import { enqueueBulk } from '../src/queues/index.js';
import { startNurtureWorker } from '../workers/nurture.js';
import { benchArgs, benchConfig, deleteQueueKeys } from './helpers.js';

const args = benchArgs(
  `Sequence engine throughput: leads enrolled into a one-step sequence and advanced by the nurture
worker until each has its send, against BullMQ jobs doing one raw insert each (same run).

usage: npx tsx bench/sequences.ts [options]     (the older form \`[leads] [runs]\` still works)`,
  {
    leads: { default: 200, help: 'leads enrolled per run' },
    runs: { default: 3, help: 'runs (the median is reported)' },
  },
);
const N = args.positionals[0] ? Number(args.positionals[0]) : args.leads;
const RUNS = args.positionals[1] ? Number(args.positionals[1]) : args.runs;

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const id = randomBytes(4).toString('hex');
  const config = benchConfig({
    QUEUE_PREFIX: `bench-${id}`,
    LOG_LEVEL: 'silent',
  }) as ReadyConfig;
  const rt = await connectRuntime(config, createLogger('silent', 'bench'), { dbName: `bench_${id}` });
  const baselineColl = mongoose.connection.collection('bench_baseline');
  let baselineDone = 0;
  // the baseline rides on the maintenance queue: one job, one raw insert
  runWorker(
    'maintenance',
    async () => {
      await baselineColl.insertOne({ at: new Date(), n: baselineDone });
      baselineDone++;
    },
    {
      redisUrl: config.redisUrl,
      queuePrefix: config.queuePrefix,
      logger: rt.logger,
      concurrency: config.workerConcurrency,
    },
  );
  let stepsSent = 0;
  // count from the worker's own completion events: polling MongoDB would compete with the engine
  startNurtureWorker(rt).on('completed', (_job, result: { sent?: string[] }) => {
    stepsSent += result?.sent?.length ?? 0;
  });
  await putSequence('bench', {
    name: 'Bench',
    enroll: { formIds: [], sources: [], stages: [] },
    steps: [{ id: 'only', wait: '0s', subject: 'Hello {{lead.firstName}}', text: 'Hi' }],
    exitOn: ['qualified', 'converted', 'unsubscribed', 'replied'],
    reenroll: 'always',
  });

  const results: { run: number; baseline: number; engine: number }[] = [];
  for (let run = 1; run <= RUNS; run++) {
    baselineDone = 0;
    let t = performance.now();
    await enqueueBulk(
      'maintenance',
      Array.from({ length: N }, () => ({ payload: { task: 'heartbeat' as const } })),
    );
    await until(async () => baselineDone >= N, 'baseline');
    const baselineMs = performance.now() - t;

    const leads = await Lead.insertMany(
      Array.from({ length: N }, (_, i) => {
        const email = `bench-${run}-${i}@example.com`;
        return { email, emailKey: emailKey(email), firstName: `B${i}` };
      }),
      { lean: true },
    );
    stepsSent = 0;
    t = performance.now();
    for (let i = 0; i < leads.length; i += 50) {
      await Promise.all(leads.slice(i, i + 50).map((l) => enrollLead('bench', String(l._id))));
    }
    const enrolledMs = performance.now() - t;
    await until(async () => stepsSent >= N, 'engine');
    const engineMs = performance.now() - t;
    results.push({ run, baseline: N / (baselineMs / 1000), engine: N / (engineMs / 1000) });
    process.stdout.write(
      `run ${run}/${RUNS}: baseline ${Math.round(baselineMs)} ms, engine ${Math.round(engineMs)} ms (enrolling ${Math.round(enrolledMs)} ms)\n`,
    );
  }

  const b = median(results.map((r) => r.baseline));
  const e = median(results.map((r) => r.engine));
  process.stdout.write(
    `\nsequences bench: ${N} enrollments x ${RUNS} runs, ${os.cpus().length} CPUs, node ${process.version}\n`,
  );
  process.stdout.write(
    [
      '',
      '| what | steps/s (median) |',
      '|---|---:|',
      `| baseline: BullMQ job + one raw insert | ${Math.round(b)} |`,
      `| enroll + advance one step (engine) | ${Math.round(e)} |`,
      `| engine / baseline | ${(e / b).toFixed(2)} |`,
      '',
    ].join('\n'),
  );
  await mongoose.connection.db?.dropDatabase();
  await shutdown(rt.logger, 20_000);
  await deleteQueueKeys(config.redisUrl, config.queuePrefix);
}

await main();
