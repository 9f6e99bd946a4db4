/**
 * Intake throughput: form submissions per second on one API process, against a bare express JSON
 * echo, a raw driver insert and a raw driver upsert on the same server, all measured in this run on
 * this machine; into an empty database and into ones already holding N leads (new emails, and
 * repeat submissions of existing ones).
 *
 *   npx tsx bench/intake.ts [--seconds 8] [--warmup 2] [--concurrency 32] [--existing 0,1000,100000]
 *
 * Each target runs as its own process (bench/intake-server.ts); this process is a bounded load
 * loop over loopback with keep-alive: `--concurrency` requests in flight. Existing leads are seeded
 * with raw insertMany in batches of 1,000 (documents built by the Lead model, each with its email
 * registry claim), with progress.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import type { ReadyConfig } from '../src/config.js';
import { EmailClaim, Lead } from '../src/modules/leads/index.js';
import { benchArgs, benchConfig, insertLeadsWithClaims, progress } from './helpers.js';

const args = benchArgs(
  `Intake throughput: POST /f/:formId on one API process against a bare express JSON echo and a raw
driver upsert, each its own process, measured in this run.

usage: npx tsx bench/intake.ts [options]`,
  {
    existing: { default: [0, 1000, 100_000], help: 'leads stored before measuring, a list' },
    seconds: { default: 8, help: 'seconds measured per target' },
    warmup: { default: 2, help: 'seconds of warm-up per target' },
    concurrency: { default: 32, help: 'requests in flight' },
    keep: {
      default: 0,
      help: '1: seed each size once into bench_intake_seed_<n>, reuse and keep it (what it measured is removed)',
    },
  },
);
const { seconds, concurrency } = args;
const sizes = args.existing;
const serverConfig = benchConfig() as ReadyConfig;
const warmupSeconds = args.warmup;
const root = path.resolve(import.meta.dirname, '..');

type Result = {
  mode: string;
  existing: number;
  statuses: string;
  requests: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
};

async function startTarget(mode: string, db?: string): Promise<{ child: ChildProcess; port: number }> {
  const target = mode === 'repeat' ? 'api' : mode;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'bench/intake-server.ts'), target, ...(db ? [db] : [])],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    const m = /READY (\d+)/.exec(out);
    if (m) return { child, port: Number(m[1]) };
  }
  throw new Error(`${mode} server exited before it was ready`);
}

function post(agent: http.Agent, port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/f/bench',
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let seq = 0;
let existing = 0;
const runId = randomBytes(3).toString('hex');
/** A new email, or (`repeat`) one of the seeded leads' addresses, spread over all of them. */
function submission(mode: string): string {
  seq += 1;
  return JSON.stringify({
    email:
      mode === 'repeat'
        ? `Person${(seq * 7919) % existing}@Seed.Example`
        : `Visitor${seq}.${runId}.${mode}.${existing}@Bench.Example`,
    first_name: 'Vis',
    last_name: `Itor ${seq}`,
    company: 'Bench Co',
    phone: '+49 30 1234567',
    country: 'Germany',
  });
}

const statusSeen = new Map<number, number>();
/** The answers seen since the last call, e.g. `201×950 200×50` (0 = no answer). */
function statusCounts(): string {
  const s = [...statusSeen.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
  statusSeen.clear();
  return s;
}

/** Runs `concurrency` loops for `durationMs`; returns per-request latencies (ms) and errors. */
async function load(mode: string, port: number, durationMs: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const t = process.hrtime.bigint();
        const status = await post(agent, port, submission(mode)).catch(() => 0);
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        if (status < 200 || status >= 300) errors += 1;
        statusSeen.set(status, (statusSeen.get(status) ?? 0) + 1);
      }
    }),
  );
  agent.destroy();
  return { latencies, errors };
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function measure(mode: string, db?: string): Promise<Result> {
  progress(`[${mode}, ${existing.toLocaleString('en')} leads stored] starting server`);
  const { child, port } = await startTarget(mode, db);
  progress(
    `[${mode}] warming up ${warmupSeconds}s, then measuring ${seconds}s at concurrency ${concurrency}`,
  );
  await load(mode, port, warmupSeconds * 1000);
  statusCounts(); // only the measured requests count
  const { latencies, errors } = await load(mode, port, seconds * 1000);
  child.kill('SIGTERM');
  await once(child, 'exit');
  latencies.sort((a, b) => a - b);
  const r = {
    mode,
    existing,
    statuses: statusCounts(),
    requests: latencies.length,
    errors,
    perSecond: latencies.length / seconds,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
  };
  progress(`[${mode}] ${r.perSecond.toFixed(0)} req/s (${r.statuses})`);
  return r;
}

/** Seeds `n` leads (as the Lead model builds them) and their email claims into `db`, 1,000 at a time. */
async function seed(db: string, n: number): Promise<void> {
  await mongoose.connect(serverConfig.mongodbUri, { dbName: db, maxPoolSize: 4 });
  const started = Date.now();
  await insertLeadsWithClaims(
    n,
    (i) => ({ email: `Person${i}@Seed.Example`, firstName: 'Per', lastName: `Son ${i}`, source: 'Seed' }),
    (written) => {
      if (written % 10_000 === 0 || written === n)
        progress(`[seed] ${written.toLocaleString('en')} of ${n.toLocaleString('en')} leads`);
    },
  );
  progress(`[seed] done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  await mongoose.disconnect();
}

async function dropDb(db: string) {
  const conn = await mongoose.createConnection(serverConfig.mongodbUri, { dbName: db }).asPromise();
  await conn.dropDatabase();
  await conn.close();
}

/** With --keep: the seeded database of size n, seeded only if its last lead is missing. */
async function reuse(db: string, n: number): Promise<void> {
  await mongoose.connect(serverConfig.mongodbUri, { dbName: db, maxPoolSize: 4 });
  const last = await EmailClaim.collection.findOne({ _id: `person${n - 1}@seed.example` as never });
  if (!last) await mongoose.connection.dropDatabase();
  await mongoose.disconnect();
  if (last) progress(`[seed] reusing ${db} (${n.toLocaleString('en')} leads)`);
  else await seed(db, n);
}

/** With --keep: removes what the measurement wrote, so the next run finds the seeded leads only. */
async function unseeded(db: string): Promise<void> {
  await mongoose.connect(serverConfig.mongodbUri, { dbName: db, maxPoolSize: 4 });
  await Lead.collection.deleteMany({ source: { $ne: 'Seed' } });
  await EmailClaim.collection.deleteMany({ _id: { $not: /@seed\.example$/ } as never });
  // the submissions' events and pending-capture markers (no worker runs here to clear them)
  for (const name of ['leadevents', 'pendingcaptures'])
    await mongoose.connection.collection(name).deleteMany({});
  await mongoose.disconnect();
}

const results: Result[] = [];
results.push(await measure('echo'));
const keep = args.keep === 1;
for (const n of sizes) {
  existing = n;
  const db = keep && n > 0 ? `bench_intake_seed_${n}` : `bench_intake_${runId}_${n}`;
  try {
    if (n > 0) await (keep ? reuse(db, n) : seed(db, n));
    for (const mode of ['insert', 'upsert', 'api', ...(n > 0 ? ['repeat'] : [])])
      results.push(await measure(mode, db));
  } finally {
    if (keep && n > 0) await unseeded(db).catch(() => undefined);
    else await dropDb(db).catch(() => undefined);
  }
}
const echo = results[0]!.perSecond;
const rate = (n: number, mode: string) =>
  results.find((r) => r.existing === n && r.mode === mode)?.perSecond ?? NaN;
const emptyNew = rate(sizes[0]!, 'api');
const labels: Record<string, string> = {
  echo: 'bare express JSON echo',
  insert: 'express + raw driver insertOne',
  upsert: 'express + raw driver upsert',
  api: 'leadflow POST /f/:formId, new emails',
  repeat: 'leadflow POST /f/:formId, existing emails',
};
const ratio = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
console.log(
  `\nintake: ${seconds}s per target, concurrency ${concurrency}, node ${process.version}, ${serverConfig.mongodbUri}\n`,
);
console.log(
  '| leads stored | target | req/s | p50 ms | p99 ms | answers | vs echo | vs upsert | vs new into empty |',
);
console.log('|---:|---|---:|---:|---:|---|---:|---:|---:|');
for (const r of results) {
  const api = r.mode === 'api' || r.mode === 'repeat';
  console.log(
    `| ${r.existing.toLocaleString('en')} | ${labels[r.mode]} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.statuses} | ${ratio(r.perSecond, echo)} | ${r.mode === 'echo' ? '' : ratio(r.perSecond, rate(r.existing, 'upsert'))} | ${api ? ratio(r.perSecond, emptyNew) : ''} |`,
  );
}
for (const n of sizes.filter((x) => x >= 20_000)) {
  const rows = results.filter((r) => r.existing === n && (r.mode === 'api' || r.mode === 'repeat'));
  const ok = rows.every((r) => r.errors === 0 && r.perSecond >= emptyNew / 2);
  console.log(
    `\nrequirement at ${n.toLocaleString('en')} leads (every answer 2xx; new and repeat >= half the rate of new into empty, ${(emptyNew / 2).toFixed(0)}/s): ${ok ? 'HOLDS' : 'DOES NOT HOLD'}`,
  );
}
