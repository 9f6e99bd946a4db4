/**
 * Handoff speed, against the real servers and a real SMTP server (the test sink):
 *
 * 1. Latency: from a lead qualifying (the HandoffRequest insert and its job, what the qualification
 *    area does when the agreement is met) to the sales notification arriving at the SMTP server,
 *    one handoff at a time while a background load records lead events; p50/p99.
 * 2. Throughput: N leads qualify at once; conversions per second until N notifications arrived.
 *    Baseline, same run, same servers: N BullMQ jobs that each do one raw insert and one raw
 *    nodemailer send to the same SMTP server (the least a notified handoff could cost).
 *
 * Run: `npx tsx bench/handoff.ts [--leads 1000] [--latency 40] [--load 200]`
 * (`--load`: background events per second). Uses MONGODB_URI/REDIS_URL or the local servers.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import mongoose from 'mongoose';
import nodemailer from 'nodemailer';
import type { ReadyConfig } from '../src/config.js';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createLogger } from '../src/lib/logger.js';
import { connectRuntime } from '../src/lib/runtime.js';
import { shutdown } from '../src/lib/shutdown.js';
import { runWorker } from '../src/lib/worker.js';
import { Rep } from '../src/modules/handoff/index.js';
import { Lead, recordEvents } from '../src/modules/leads/index.js';
import { emailKey } from '../src/modules/leads/index.js';
import { HandoffRequest, handoffRequestId } from '../src/modules/qualification/index.js';
import { enqueueBulk } from '../src/queues/index.js';
import { startHandoffWorker } from '../workers/handoff.js';
import { benchConfig, deleteQueueKeys } from './helpers.js';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(
    'usage: npx tsx bench/handoff.ts [--leads N=1000] [--latency K=40] [--load EVENTS_PER_S=200]\n',
  );
  process.exit(0);
}
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const LEADS = opt('leads', 1000);
const LATENCY = opt('latency', 40);
const LOAD = opt('load', 200);

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const progress = (s: string) => process.stderr.write(`\r${s}`.padEnd(60));

async function makeLeads(n: number, tag: string) {
  const docs = Array.from({ length: n }, (_, i) => {
    const email = `b${i}-${tag}@bench${i}-${tag}.example`;
    return {
      _id: new mongoose.Types.ObjectId(),
      email,
      emailKey: emailKey(email),
      firstName: 'Bench',
      lastName: `Lead ${i}`,
      company: `Bench Co ${i} ${tag}`,
      status: 'nurturing',
      lifecycleStage: 'mql',
      score: 100,
    };
  });
  await Lead.insertMany(docs, { lean: true });
  return docs.map((d) => String(d._id));
}

async function qualifyAll(leadIds: string[]) {
  const now = new Date();
  const reqs = leadIds.map((id) => ({
    _id: handoffRequestId(id, 1),
    leadId: id,
    cycle: 1,
    agreementVersion: 1,
    qualifiedAt: now,
    reasons: { score: 100, topReasons: [{ reason: 'bench', points: 100 }], bant: {}, grade: null },
  }));
  await HandoffRequest.insertMany(reqs, { lean: true });
  await enqueueBulk(
    'handoff',
    reqs.map((r) => ({ payload: { requestId: r._id }, opts: { jobId: r._id.replace(':', '-') } })),
  );
}

/** A real SMTP server that notes when each handoff's notification (its X-Leadflow-Handoff) arrived. */
async function startSink(arrivals: Map<string, number>) {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _s, cb) {
      let head = '';
      stream.on('data', (c: Buffer) => {
        if (head.length < 8192) head += c.toString('latin1');
      });
      stream.on('end', () => {
        const m = /^X-Leadflow-Handoff: *(\S+)/im.exec(head);
        if (m) arrivals.set(m[1]!, performance.now());
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function main() {
  const id = randomBytes(4).toString('hex');
  const arrivals = new Map<string, number>();
  const sink = await startSink(arrivals);
  // the environment's servers (MONGODB_URI/REDIS_URL), else the shared local ones
  const config = benchConfig({
    QUEUE_PREFIX: `bench-${id}`,
    SMTP_URL: sink.url,
    LOG_LEVEL: 'silent',
  }) as ReadyConfig;
  const rt = await connectRuntime(config, createLogger('silent', 'bench'), { dbName: `bench_${id}` });
  for (const r of ['r1', 'r2', 'r3']) await Rep.create({ _id: r, name: r, email: `${r}@sales.bench` });
  startHandoffWorker(rt);

  // 1. latency under a background load of recorded events
  const [loadLead] = await makeLeads(1, `${id}load`);
  let loading = true;
  const load = (async () => {
    while (loading) {
      const t = performance.now();
      await recordEvents(
        Array.from({ length: Math.max(1, LOAD / 10) }, () => ({ leadId: loadLead!, type: 'page_view' })),
      );
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - t))));
    }
  })();
  const latencyLeads = await makeLeads(LATENCY, `${id}lat`);
  const latencies: number[] = [];
  for (const [i, leadId] of latencyLeads.entries()) {
    const t = performance.now();
    await qualifyAll([leadId]);
    const rid = handoffRequestId(leadId, 1);
    while (!arrivals.has(rid)) await new Promise((r) => setTimeout(r, 2));
    latencies.push(arrivals.get(rid)! - t);
    progress(`latency ${i + 1}/${LATENCY}`);
  }
  loading = false;
  await load;

  // 2. throughput: N leads qualify at once
  const burst = await makeLeads(LEADS, `${id}burst`);
  const before = arrivals.size;
  let t = performance.now();
  await qualifyAll(burst);
  while (arrivals.size - before < LEADS) {
    progress(`burst ${arrivals.size - before}/${LEADS}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const handoffMs = performance.now() - t;

  // baseline: a raw insert and a raw SMTP send per job
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: sink.port,
    secure: false,
    pool: true,
    maxConnections: 5,
  });
  const coll = mongoose.connection.collection('bench_baseline');
  let baseDone = 0;
  runWorker(
    'maintenance',
    async () => {
      await coll.insertOne({ at: new Date() });
      await transport.sendMail({ from: 'b@bench', to: 'r@sales.bench', subject: 'baseline', text: 'x' });
      baseDone++;
    },
    {
      redisUrl: config.redisUrl,
      queuePrefix: config.queuePrefix,
      logger: rt.logger,
      concurrency: config.workerConcurrency,
    },
  );
  t = performance.now();
  await enqueueBulk(
    'maintenance',
    Array.from({ length: LEADS }, () => ({ payload: { task: 'heartbeat' as const } })),
  );
  while (baseDone < LEADS) {
    progress(`baseline ${baseDone}/${LEADS}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const baseMs = performance.now() - t;
  transport.close();

  process.stderr.write('\n');
  const out = {
    machine: `${os.cpus().length} cpu, ${os.cpus()[0]?.model ?? '?'}, load ${os.loadavg()[0]!.toFixed(1)}`,
    latency: {
      n: LATENCY,
      backgroundEventsPerSecond: LOAD,
      p50Ms: Math.round(pct(latencies, 0.5)),
      p99Ms: Math.round(pct(latencies, 0.99)),
    },
    burst: {
      leads: LEADS,
      conversionsPerSecond: Math.round((LEADS / handoffMs) * 1000 * 10) / 10,
      baselinePerSecond: Math.round((LEADS / baseMs) * 1000 * 10) / 10,
      ratio: Math.round((handoffMs / baseMs) * 10) / 10,
    },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  await mongoose.connection.db?.dropDatabase();
  await shutdown(rt.logger, 20_000);
  await deleteQueueKeys(config.redisUrl, config.queuePrefix);
  await sink.close();
  process.exit(0);
}

await main();
