/**
 * Intake throughput: form submissions per second on one API process, against a bare express JSON
 * echo and a raw driver upsert, all measured in this run on this machine.
 *
 *   npx tsx bench/intake.ts [--seconds 8] [--warmup 2] [--concurrency 32]
 *
 * Each target runs as its own process (bench/intake-server.ts); this process is a bounded load
 * loop over loopback with keep-alive: BENCH_CONCURRENCY requests in flight, each a new email.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { once } from 'node:events';
import { benchArgs } from './helpers.js';

const args = benchArgs(
  `Intake throughput: POST /f/:formId on one API process against a bare express JSON echo and a raw
driver upsert, each its own process, measured in this run.

usage: npx tsx bench/intake.ts [options]`,
  {
    seconds: { default: 8, help: 'seconds measured per target' },
    warmup: { default: 2, help: 'seconds of warm-up per target' },
    concurrency: { default: 32, help: 'requests in flight' },
  },
);
const { seconds, concurrency } = args;
const warmupSeconds = args.warmup;
const root = path.resolve(import.meta.dirname, '..');

type Result = { mode: string; requests: number; errors: number; perSecond: number; p50: number; p99: number };

async function startTarget(mode: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'bench/intake-server.ts'), mode],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
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
function submission(mode: string): string {
  seq += 1;
  return JSON.stringify({
    email: `Visitor${seq}.${mode}@Bench.Example`,
    first_name: 'Vis',
    last_name: `Itor ${seq}`,
    company: 'Bench Co',
    phone: '+49 30 1234567',
    country: 'Germany',
  });
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
      }
    }),
  );
  agent.destroy();
  return { latencies, errors };
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function measure(mode: string): Promise<Result> {
  process.stdout.write(`[${mode}] starting server… `);
  const { child, port } = await startTarget(mode);
  process.stdout.write(`warming up ${warmupSeconds}s… `);
  await load(mode, port, warmupSeconds * 1000);
  process.stdout.write(`measuring ${seconds}s at concurrency ${concurrency}… `);
  const { latencies, errors } = await load(mode, port, seconds * 1000);
  child.kill('SIGTERM');
  await once(child, 'exit');
  latencies.sort((a, b) => a - b);
  const r = {
    mode,
    requests: latencies.length,
    errors,
    perSecond: latencies.length / seconds,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
  };
  process.stdout.write(`${r.perSecond.toFixed(0)} req/s\n`);
  return r;
}

const results: Result[] = [];
for (const mode of ['echo', 'upsert', 'api']) results.push(await measure(mode));
const echo = results[0]!.perSecond;
const upsert = results[1]!.perSecond;
const labels: Record<string, string> = {
  echo: 'bare express JSON echo',
  upsert: 'express + raw driver upsert',
  api: 'leadflow POST /f/:formId',
};
console.log(`\nintake: ${seconds}s per target, concurrency ${concurrency}, node ${process.version}\n`);
console.log('| target | req/s | p50 ms | p99 ms | errors | vs echo | vs upsert |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${labels[r.mode]} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.errors} | ${((100 * r.perSecond) / echo).toFixed(0)}% | ${((100 * r.perSecond) / upsert).toFixed(0)}% |`,
  );
}
