/**
 * Handoff speed, end to end on one process (the API plus every worker, as `npm start` runs them),
 * against the real servers and a real SMTP server:
 *
 * 1. Latency: from a qualifying event accepted by `POST /api/events` (202) — scored, the agreement
 *    met, the HandoffRequest written, Convert Lead, assignment — to the sales notification arriving
 *    at the SMTP server, one lead at a time while a background load of page views is posted; p50/p99.
 * 2. 1,000 leads qualify at once: one `POST /api/events` batch of qualifying events; conversions
 *    (notifications at the SMTP server) per second until all arrived. With `--direct N`, then the
 *    handoff worker alone: N HandoffRequests inserted at once (what qualification writes).
 *    Baseline, same run, same servers: as many BullMQ jobs that each do one raw insert and one raw
 *    nodemailer send to the same SMTP server (the least a notified handoff could cost).
 *
 * Run: `npx tsx bench/handoff.ts [--leads 1000] [--latency 40] [--load 200]`
 * (`--load`: background page views per second). Uses MONGODB_URI/REDIS_URL or the local servers.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import mongoose from 'mongoose';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { buildApp } from '../src/app.js';
import type { ReadyConfig } from '../src/config.js';
import { createLogger } from '../src/lib/logger.js';
import { connectRuntime } from '../src/lib/runtime.js';
import { shutdown } from '../src/lib/shutdown.js';
import { runWorker } from '../src/lib/worker.js';
import { HandoffRequest, handoffRequestId } from '../src/modules/qualification/index.js';
import { enqueueBulk } from '../src/queues/index.js';
import { startWorkers } from '../workers/all.js';
import { benchArgs, benchConfig, deleteQueueKeys, insertLeadsWithClaims, progress } from './helpers.js';

const args = benchArgs(
  `Handoff: latency from a qualifying event accepted by POST /api/events to the sales notification at
an SMTP server (p50/p99, with background load), and conversions per second when N leads qualify at
once, against raw insert + raw SMTP send jobs (same run).

usage: npx tsx bench/handoff.ts [options]`,
  {
    leads: { default: 1000, help: 'leads qualifying at once (at most 1,000: one events batch)' },
    latency: { default: 40, help: 'leads qualified one at a time for the latency figures' },
    load: { default: 200, help: 'background page views per second during the latency run' },
    direct: {
      default: 0,
      help: 'then this many HandoffRequests inserted at once (the handoff worker alone; 0: skip)',
    },
  },
);
const LEADS = Math.min(1000, args.leads);
const LATENCY = args.latency;
const LOAD = args.load;

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Leads as capture writes them (with their email claims), in the nurturing stage. */
function makeLeads(n: number, tag: string) {
  return insertLeadsWithClaims(n, (i) => ({
    email: `b${i}-${tag}@bench${i}-${tag}.example`,
    firstName: 'Bench',
    lastName: `Lead ${i}`,
    company: `Bench Co ${i} ${tag}`,
    country: 'DE',
  }));
}

/** What qualification writes when the agreement is met: the HandoffRequest and its job. */
async function insertRequests(leadIds: string[]) {
  const now = new Date();
  const reqs = leadIds.map((id) => ({
    _id: handoffRequestId(id, 1),
    leadId: id,
    cycle: 1,
    agreementVersion: 1,
    qualifiedAt: now,
    reasons: { score: 100, topReasons: [{ reason: 'bench', points: 100 }], bant: {}, grade: null },
    processedAt: null,
    open: true,
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
  // a sender that dies mid-conversation resets its connection; smtp-server emits that as an
  // 'error' on the server, which unhandled would end this process
  server.on('error', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Waits until `count()` reaches n, printing progress every few seconds. */
async function until(what: string, count: () => number, n: number) {
  let last = 0;
  while (count() < n) {
    if (performance.now() - last > 3000) {
      progress(`${what}: ${count()}/${n}`);
      last = performance.now();
    }
    await sleep(20);
  }
}

async function main() {
  const id = randomBytes(4).toString('hex');
  const arrivals = new Map<string, number>();
  const sink = await startSink(arrivals);
  const config = benchConfig({
    QUEUE_PREFIX: `bench-${id}`,
    SMTP_URL: sink.url,
    LOG_LEVEL: 'silent',
    ADMIN_API_KEY: `bench-admin-${id}-0123456789abcdef`,
  }) as ReadyConfig;
  const rt = await connectRuntime(config, createLogger('silent', 'bench'), { dbName: `bench_${id}` });
  const server = buildApp(rt).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const api = async (method: string, path: string, body: unknown, want: number) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${config.adminApiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (r.status !== want) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  };
  const post = (events: unknown[]) => api('POST', '/api/events', { events }, 202);
  const workers = startWorkers(rt);

  await api(
    'PUT',
    '/api/scoring',
    {
      rules: [
        { id: 'demo', event: 'demo_request', points: 100 },
        { id: 'view', event: 'page_view', points: 1, maxTotal: 20 },
      ],
    },
    200,
  );
  await api(
    'PUT',
    '/api/qualification',
    { threshold: 100, agreedBy: { marketing: 'Bench Marketing', sales: 'Bench Sales' } },
    200,
  );
  for (const r of ['r1', 'r2', 'r3'])
    await api('PUT', `/api/reps/${r}`, { name: `Rep ${r}`, email: `${r}@sales.bench` }, 200);

  // 1. latency, one lead at a time, under a background load of page views on other leads
  const loadLeads = await makeLeads(500, `${id}load`);
  let loading = true;
  let sent = 0;
  const load = (async () => {
    while (loading) {
      const t = performance.now();
      await post(
        Array.from({ length: Math.max(1, LOAD / 10) }, () => ({
          leadId: loadLeads[sent++ % loadLeads.length],
          type: 'page_view',
          properties: { path: '/blog' },
        })),
      );
      await sleep(Math.max(0, 100 - (performance.now() - t)));
    }
  })();
  const latencyLeads = await makeLeads(LATENCY, `${id}lat`);
  const latencies: number[] = [];
  for (const [i, leadId] of latencyLeads.entries()) {
    const t = performance.now();
    await post([{ leadId, type: 'demo_request' }]);
    const rid = handoffRequestId(leadId, 1);
    while (!arrivals.has(rid)) await sleep(2);
    latencies.push(arrivals.get(rid)! - t);
    if ((i + 1) % 10 === 0) progress(`latency ${i + 1}/${LATENCY}, last ${Math.round(latencies.at(-1)!)} ms`);
  }
  loading = false;
  await load;

  // 2. N leads qualify at once, through the API
  const burst = await makeLeads(LEADS, `${id}burst`);
  let before = arrivals.size; // reassigned by --direct
  let t = performance.now();
  await post(burst.map((leadId) => ({ leadId, type: 'demo_request' })));
  await until('qualified at once, notified', () => arrivals.size - before, LEADS);
  const e2eMs = performance.now() - t;

  // 2b. the handoff worker alone: N HandoffRequests at once
  const DIRECT = args.direct;
  let handoffMs = NaN;
  if (DIRECT > 0) {
    const direct = await makeLeads(DIRECT, `${id}direct`);
    before = arrivals.size;
    t = performance.now();
    await insertRequests(direct);
    await until('handoff requests, notified', () => arrivals.size - before, DIRECT);
    handoffMs = performance.now() - t;
  }
  for (const w of workers) await w.close();

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
  await until('baseline', () => baseDone, LEADS);
  const baseMs = performance.now() - t;
  transport.close();

  const perS = (ms: number) => Math.round((LEADS / ms) * 1000 * 10) / 10;
  const lines = [
    `handoff bench: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os.loadavg()[0]!.toFixed(1)}, node ${process.version}, worker concurrency ${config.workerConcurrency}`,
    '',
    `latency, qualifying event accepted (202) → notification at the SMTP server, ${LATENCY} leads one at a time, ${LOAD} background page views/s:`,
    `  p50 ${Math.round(pct(latencies, 0.5))} ms, p99 ${Math.round(pct(latencies, 0.99))} ms, max ${Math.round(Math.max(...latencies))} ms`,
    '',
    '| path | leads | seconds | conversions/s | vs baseline |',
    '|---|---:|---:|---:|---:|',
    `| baseline: job + raw insert + raw SMTP send | ${LEADS} | ${(baseMs / 1000).toFixed(1)} | ${perS(baseMs)} | 100% |`,
    `| one POST /api/events batch → scored, qualified, converted, notified | ${LEADS} | ${(e2eMs / 1000).toFixed(1)} | ${perS(e2eMs)} | ${Math.round((baseMs / e2eMs) * 100)}% |`,
  ];
  if (DIRECT > 0) {
    const directPerS = Math.round((DIRECT / handoffMs) * 1000 * 10) / 10;
    lines.push(
      `| HandoffRequests inserted at once → converted, notified | ${DIRECT} | ${(handoffMs / 1000).toFixed(1)} | ${directPerS} | ${Math.round((directPerS / perS(baseMs)) * 100)}% |`,
    );
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
  server.close();
  await mongoose.connection.db?.dropDatabase();
  await shutdown(rt.logger, 20_000);
  await deleteQueueKeys(config.redisUrl, config.queuePrefix);
  await sink.close();
  process.exit(0);
}

await main();
