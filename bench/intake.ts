/**
 * Intake throughput: form submissions per second on one API process, against a bare express JSON
 * echo, a raw driver insert and a raw driver upsert on the same server, all measured in this run
 * on this machine; into an empty database and into ones already holding N leads (new emails, and
 * repeat submissions of existing ones).
 *
 *   npx tsx bench/intake.ts [--existing 0,1000,100000]
 *   (BENCH_SECONDS=8 BENCH_WARMUP_SECONDS=2 BENCH_CONCURRENCY=32 by default)
 *
 * Servers come from scripts/services.sh up (MONGODB_URI / REDIS_URL win when set). Each target runs
 * as its own process (bench/intake-server.ts); this process is a bounded load loop over loopback
 * with keep-alive: BENCH_CONCURRENCY requests in flight. Existing leads are seeded with raw
 * insertMany in batches of 1,000 (documents built by the Lead model), with progress.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { once } from 'node:events';
import mongoose from 'mongoose';
import { Lead } from '../src/modules/leads/lead.model.js';

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(
    'usage: npx tsx bench/intake.ts [--existing 0,1000,100000]  (env BENCH_SECONDS, BENCH_CONCURRENCY)',
  );
  process.exit(0);
}
const existingIx = argv.indexOf('--existing');
const sizes = (existingIx >= 0 ? argv[existingIx + 1]! : '0,1000,100000').split(',').map(Number);

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
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

const services = execFileSync('bash', [path.join(root, 'scripts/services.sh'), 'up'], { encoding: 'utf8' });
const setting = (k: string) => process.env[k] ?? new RegExp(`^${k}=(.+)$`, 'm').exec(services)?.[1]?.trim();
const serverEnv: Record<string, string> = {};
for (const k of ['MONGODB_URI', 'REDIS_URL', 'EMBEDDED_POSTGRES_URL']) {
  const v = setting(k);
  if (v) serverEnv[k] = v;
}

async function startTarget(mode: string, db?: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'bench/intake-server.ts'), mode === 'repeat' ? 'api' : mode],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...serverEnv, ...(db ? { BENCH_DB: db } : {}) },
    },
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
function submission(mode: string): string {
  seq += 1;
  return JSON.stringify({
    email:
      mode === 'repeat'
        ? `Person${(seq * 7919) % existing}@Seed.Example`
        : `Visitor${seq}.${mode}.${existing}@Bench.Example`,
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
  process.stdout.write(`[${mode}, ${existing} leads] starting server… `);
  const started = Date.now();
  const { child, port } = await startTarget(mode, db);
  process.stdout.write(`(${((Date.now() - started) / 1000).toFixed(1)}s) `);
  process.stdout.write(`warming up ${warmupSeconds}s… `);
  await load(mode, port, warmupSeconds * 1000);
  statusCounts(); // only the measured requests count
  process.stdout.write(`measuring ${seconds}s at concurrency ${concurrency}… `);
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
  process.stdout.write(`${r.perSecond.toFixed(0)} req/s\n`);
  return r;
}

/** Seeds `n` leads (documents as the Lead model builds them) into `db`, in batches of 1,000. */
async function seed(db: string, n: number): Promise<void> {
  await mongoose.connect(serverEnv.MONGODB_URI!, { dbName: db, maxPoolSize: 4 });
  const started = Date.now();
  for (let from = 0; from < n; from += 1000) {
    const docs = Array.from({ length: Math.min(1000, n - from) }, (_, j) => {
      const i = from + j;
      const email = `Person${i}@Seed.Example`;
      return new Lead({
        email,
        emailKey: email.toLowerCase(),
        firstName: 'Per',
        lastName: `Son ${i}`,
        source: 'Seed',
      }).toObject();
    });
    await Lead.collection.insertMany(docs, { ordered: false });
    process.stdout.write(`\r[seed] ${from + docs.length} of ${n} leads`);
  }
  process.stdout.write(` in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  await mongoose.disconnect();
}

async function dropDb(db: string) {
  const conn = await mongoose.createConnection(serverEnv.MONGODB_URI!, { dbName: db }).asPromise();
  await conn.dropDatabase();
  await conn.close();
}

const results: Result[] = [];
existing = 0;
results.push(await measure('echo'));
const runId = randomBytes(3).toString('hex');
for (const n of sizes) {
  existing = n;
  const db = `bench_intake_${runId}_${n}`;
  try {
    if (n > 0) await seed(db, n);
    for (const mode of ['insert', 'upsert', 'api', ...(n > 0 ? ['repeat'] : [])])
      results.push(await measure(mode, db));
  } finally {
    await dropDb(db).catch(() => undefined);
  }
}
const echo = results[0]!.perSecond;
const baseline = (n: number, mode: string) =>
  results.find((r) => r.existing === n && r.mode === mode)?.perSecond ?? NaN;
const emptyNew = baseline(0, 'api');
const labels: Record<string, string> = {
  echo: 'bare express JSON echo',
  insert: 'express + raw driver insertOne',
  upsert: 'express + raw driver upsert',
  api: 'leadflow POST /f/:formId, new emails',
  repeat: 'leadflow POST /f/:formId, existing emails',
};
console.log(
  `\nintake: ${seconds}s per target, concurrency ${concurrency}, node ${process.version}, ${serverEnv.MONGODB_URI}\n`,
);
console.log(
  '| leads stored | target | req/s | p50 ms | p99 ms | answers | vs echo | vs upsert | vs new into empty |',
);
console.log('|---:|---|---:|---:|---:|---|---:|---:|---:|');
for (const r of results) {
  const api = r.mode === 'api' || r.mode === 'repeat';
  console.log(
    `| ${r.existing.toLocaleString('en')} | ${labels[r.mode]} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.statuses} | ${((100 * r.perSecond) / echo).toFixed(0)}% | ${r.mode === 'echo' ? '' : `${((100 * r.perSecond) / baseline(r.existing, 'upsert')).toFixed(0)}%`} | ${api ? `${((100 * r.perSecond) / emptyNew).toFixed(0)}%` : ''} |`,
  );
}
for (const n of sizes.filter((x) => x >= 20_000)) {
  const rows = results.filter((r) => r.existing === n && (r.mode === 'api' || r.mode === 'repeat'));
  const ok = rows.every((r) => r.errors === 0 && r.perSecond >= emptyNew / 2);
  console.log(
    `\nrequirement at ${n.toLocaleString('en')} leads (every answer 2xx; new and repeat >= half the rate of new into empty, ${(emptyNew / 2).toFixed(0)}/s): ${ok ? 'HOLDS' : 'DOES NOT HOLD'}`,
  );
}
