// npm run test:faults [-- --minutes N]: the system's guarantees under fire. See docs/faults.md.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type ReadyConfig } from '../src/config.js';
import { createLogger } from '../src/lib/logger.js';
import { connectRuntime } from '../src/lib/runtime.js';
import { shutdown } from '../src/lib/shutdown.js';
import { startWebhookReceiver } from '../test/helpers/webhook-receiver.js';
import { drained, invariants, type Check } from './faults/invariants.js';
import { freePort, startPrivateServers, supervise, until, type Managed } from './faults/servers.js';
import { startFaultySmtp, type SmtpMode } from './faults/smtp.js';
import { ADMIN_KEY, configure, newTally, tick } from './faults/workload.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    'drain-minutes': { type: 'string', default: '6' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(`npm run test:faults [-- --minutes N] [--drain-minutes M]

Starts private servers (Redis, PostgreSQL, FerretDB under a temp dir), an SMTP server that can
refuse, stall and drop, a webhook receiver, the API, two worker processes and the scheduler; runs a
mixed workload for N minutes (default 2) while SIGKILLing processes, restarting and flushing Redis,
restarting FerretDB and PostgreSQL and making SMTP misbehave; then waits (at most M minutes,
default 6) for every queue to drain and checks every invariant. Exits 1 if one broke.
`);
  process.exit(0);
}
const faultMs = Number(args.minutes) * 60_000;
const drainMs = Number(args['drain-minutes']) * 60_000;
const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
const say = (s: string) => process.stdout.write(`[${secs()}s] ${s}\n`);

say('starting private servers');
const servers = await startPrivateServers();
const smtp = await startFaultySmtp();
const receiver = await startWebhookReceiver();
const apiPort = await freePort();
const base = `http://127.0.0.1:${apiPort}`;
const dataDir = path.join(servers.dir, 'app');
mkdirSync(dataDir, { recursive: true });
const env = {
  MONGODB_URI: servers.mongoUri,
  REDIS_URL: servers.redisUrl,
  EMBEDDED_POSTGRES_URL: servers.postgresUrl,
  ADMIN_API_KEY: ADMIN_KEY,
  SMTP_URL: smtp.url,
  PUBLIC_URL: base,
  PORT: String(apiPort),
  DATA_DIR: dataDir,
  LOG_LEVEL: 'warn',
  WORKER_CONCURRENCY: '4',
  RATE_LIMIT_PUBLIC: '1000000',
  SMTP_TIMEOUT_MS: '10000',
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_RETRY_SCHEDULE: '2s,5s,10s,20s,30s,30s,30s',
};
const procs: Record<string, Managed> = {
  api: supervise('api', 'src/server.ts', env),
  'worker-1': supervise('worker-1', 'workers/all.ts', env),
  'worker-2': supervise('worker-2', 'workers/all.ts', env),
  scheduler: supervise('scheduler', 'workers/scheduler.ts', env),
};
const ready = async () =>
  (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3000) })).status === 200;
await until(ready, 120_000, 'the API to be ready');
await configure(base, receiver.url);
say(`API ready on ${base}; rules, agreement, reps, webhook, form and sequence configured`);

type Done = { at: string; fault: string; ms: number; note: string };
const timeline: Done[] = [];
async function fault(name: string, fn: () => Promise<string | void>) {
  const at = secs();
  const start = Date.now();
  let note: string;
  try {
    note = (await fn()) ?? '';
  } catch (err) {
    note = `error: ${(err as Error).message}`;
  }
  timeline.push({ at, fault: name, ms: Date.now() - start, note });
  say(`${name} (${Date.now() - start} ms) ${note}`);
}
const backUp = async () => {
  const start = Date.now();
  await until(ready, 120_000, 'the API to be ready again');
  return `ready again after ${Date.now() - start} ms`;
};
const smtpFor = (mode: SmtpMode) => async () => {
  smtp.setMode(mode);
  await new Promise((r) => setTimeout(r, 8_000));
  smtp.setMode('ok');
  return `8 s, then normal (${JSON.stringify(smtp.stats)})`;
};
const faults: [string, () => Promise<string | void>][] = [
  ['SIGKILL worker-1', async () => procs['worker-1']!.kill9()],
  ['SMTP refuses (421 at connect)', smtpFor('refuse')],
  ['SIGKILL API', async () => (await procs.api!.kill9(), backUp())],
  ['Redis SIGKILL + restart', async () => (await servers.restartRedis(), backUp())],
  ['SMTP stalls after DATA', smtpFor('stall')],
  ['SIGKILL worker-2', async () => procs['worker-2']!.kill9()],
  ['FerretDB SIGKILL + restart', async () => (await servers.restartFerret(), backUp())],
  ['SMTP drops after DATA (kept, unanswered)', smtpFor('drop')],
  ['Redis FLUSHALL', async () => (await servers.flushRedis(), backUp())],
  ['PostgreSQL immediate stop + restart', async () => (await servers.restartPostgres(), backUp())],
  ['SIGKILL scheduler', async () => procs.scheduler!.kill9()],
  [
    'SIGKILL worker-1 and worker-2',
    async () => (await Promise.all([procs['worker-1']!.kill9(), procs['worker-2']!.kill9()]), ''),
  ],
];

const tally = newTally();
let running = true;
const load = (async () => {
  for (let n = 0; running; n++) {
    await tick(base, tally, smtp.delivered, n);
    await new Promise((r) => setTimeout(r, 250));
  }
})();
const every = Math.max(8_000, Math.floor(faultMs / faults.length));
const faultsFrom = Date.now();
for (let i = 0; Date.now() - faultsFrom < faultMs || i === 0; i++) {
  const next = Date.now() + every;
  await fault(...faults[i % faults.length]!);
  while (Date.now() < next && Date.now() - faultsFrom < faultMs) await new Promise((r) => setTimeout(r, 200));
}
running = false;
await load;
smtp.setMode('ok');
await servers.up();
say(
  `faults over; workload stopped (${tally.requests.ok} answered 2xx, ${tally.requests.failed} not); draining`,
);

const config = loadConfig({ ...env, LOG_LEVEL: 'silent' }) as ReadyConfig;
await connectRuntime(config, createLogger('silent', 'faults'));
const drainStart = Date.now();
let settled: Check[] = [];
let polls = 0;
while (Date.now() - drainStart < drainMs) {
  settled = await drained().catch((err: Error) => [
    { name: 'drain check', held: false, detail: err.message },
  ]);
  if (settled.every((c) => c.held)) break;
  if (++polls % 6 === 0)
    say(
      `still draining: ${settled
        .filter((c) => !c.held)
        .map((c) => `${c.name} (${c.detail})`)
        .join('; ')}`,
    );
  await new Promise((r) => setTimeout(r, 5_000));
}
say(
  `drain ${settled.every((c) => c.held) ? 'complete' : 'INCOMPLETE'} after ${((Date.now() - drainStart) / 1000).toFixed(0)} s`,
);
const checks = [...settled, ...(await invariants(tally, smtp.delivered, receiver.received))];

const table = (rows: string[][]) => {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`).join('\n');
};
process.stdout.write(
  `\nWhat was done\n${table([['t (s)', 'fault', 'took (ms)', 'note'], ...timeline.map((d) => [d.at.trim(), d.fault, String(d.ms), d.note])])}\n`,
);
const restarts = Object.values(procs)
  .map((p) => `${p.name} ${p.restarts}`)
  .join(', ');
const statuses = [...tally.requests.byStatus].map(([k, v]) => `${k}: ${v}`).join(', ');
process.stdout.write(
  `\nWorkload: ${statuses}; process restarts: ${restarts}; SMTP ${JSON.stringify(smtp.stats)}, ${smtp.delivered.length} messages kept\n`,
);
process.stdout.write(
  `\nWhat held\n${table([['invariant', 'held', 'detail'], ...checks.map((c) => [c.name, c.held ? 'yes' : 'NO', c.detail])])}\n\n`,
);

for (const p of Object.values(procs)) await p.stop();
await shutdown(createLogger('silent', 'faults'), 10_000);
await smtp.close();
await receiver.close();
await servers.down();
rmSync(servers.dir, { recursive: true, force: true });
const broke = checks.filter((c) => !c.held);
say(broke.length ? `${broke.length} invariant(s) broke` : 'every invariant held');
process.exit(broke.length ? 1 : 0);
