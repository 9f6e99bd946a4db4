// npm run soak [-- --minutes N]: the whole system at half its measured capacity. See docs/soak.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configure, newTally, tick, type Tally } from './faults/workload.js';
import { closedLoop, openLoop } from './soak/load.js';
import { processRss, queueDepths, storeCounts } from './soak/probe.js';
import { soakSvg } from './soak/chart.js';
import { finalVerdict, reportMarkdown, verdict, type RunInfo, type Sample } from './soak/report.js';
import { root } from './faults/servers.js';
import { sayer, startSystem } from './system/system.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string' },
    'sample-seconds': { type: 'string', default: '10' },
    'calibrate-seconds': { type: 'string', default: '30' },
    clients: { type: 'string', default: '8' },
    'drain-minutes': { type: 'string', default: '3' },
    out: { type: 'string', default: 'soak-results' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(`npm run soak [-- options]

Starts private servers (Redis, PostgreSQL, FerretDB under a temp dir), an SMTP server, a webhook
receiver, the API, two worker processes and the scheduler; measures the capacity (a closed loop of
--clients for --calibrate-seconds, plus the time the queues take to drain), then runs the mixed
workload open-loop at half of it for --minutes, sampling throughput, latency, queue depth and the
RSS of every process. Writes <out>/<timestamp>/{report.md,soak.svg,samples.json}, prints the report
and exits 1 on growth (memory or queue depth), a queue that does not drain, a restart or a 5xx.

  --minutes N           soak length (default 10)
  --rate R              ticks per second instead of half the measured capacity
  --sample-seconds S    sampling interval (default 10)
  --calibrate-seconds C closed-loop calibration length (default 30)
  --clients K           closed-loop clients in the calibration (default 8)
  --drain-minutes M     how long the queues may take to drain at the end (default 3)
  --out DIR             where results go (default soak-results/)
`);
  process.exit(0);
}
const minutes = Number(args.minutes);
const sampleMs = Number(args['sample-seconds']) * 1000;
const TICK =
  '2 form submissions (1 in 5 a known person), every 3rd tick a POST /api/leads, an events batch of 8, every 12th an unsubscribe';
const loadStart = os.loadavg();
const t0 = Date.now();
const say = sayer(t0, process.stderr);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

say('starting private servers, SMTP, a webhook receiver, the API, 2 workers and the scheduler');
const system = await startSystem();
const { smtp, receiver } = system;
await configure(system.base, receiver.url);
await system.connect();
say(`API ready on ${system.base}; rules, agreement, reps, webhook, form and sequence configured`);

// every answer lands in the current interval
let interval = { latencies: [] as number[], errors: {} as Record<string, number> };
const tally: Tally = {
  ...newTally(),
  observe(status, ms) {
    interval.latencies.push(ms);
    if (status < 200 || status >= 300)
      interval.errors[String(status)] = (interval.errors[String(status)] ?? 0) + 1;
  },
};
const work = (n: number) => tick(system.base, tally, smtp.delivered, n);

/** waits until `done()`; resolves to the seconds it took, or null after `limitMs` */
async function waitFor(done: () => Promise<boolean>, limitMs: number): Promise<number | null> {
  const start = Date.now();
  while (Date.now() - start < limitMs) {
    if (await done().catch(() => false)) return Math.round((Date.now() - start) / 1000);
    await sleep(1000);
  }
  return null;
}

let rate = Number(args.rate);
let capacity = `not measured: --rate ${args.rate}`;
let n = 0;
if (!args.rate) {
  const ms = Number(args['calibrate-seconds']) * 1000;
  say(`calibrating: ${args.clients} closed-loop clients for ${ms / 1000} s`);
  const answered0 = tally.requests.ok + tally.requests.failed;
  const ticks = await closedLoop(Number(args.clients), ms, (i) => work(i));
  n = ticks + Number(args.clients);
  const requests = tally.requests.ok + tally.requests.failed - answered0;
  say(
    `${ticks} ticks (${requests} requests, ${(requests / (ms / 1000)).toFixed(1)}/s answered); waiting for the backlog to drain`,
  );
  const drain = await waitFor(async () => (await queueDepths()).backlog === 0, 180_000);
  const seconds = ms / 1000 + (drain ?? 180);
  const cap = ticks / seconds;
  rate = cap / 2;
  capacity = `${cap.toFixed(2)} ticks/s: ${ticks} ticks of ${args.clients} closed-loop clients in ${ms / 1000} s (${(requests / (ms / 1000)).toFixed(1)} requests/s answered), whose queued work took ${drain ?? '> 180'} s more to drain: ${ticks} / ${seconds} s`;
  say(`capacity ${cap.toFixed(2)} ticks/s end to end; soaking at half: ${rate.toFixed(2)} ticks/s`);
}
if (!(rate > 0)) throw new Error(`no usable rate (${rate})`);
await sleep(2000);

const samples: Sample[] = [];
const restarts0 = Object.fromEntries(Object.entries(system.procs).map(([k, p]) => [k, p.restarts]));
interval = { latencies: [], errors: {} };
const soakStart = Date.now();
const soakEnd = soakStart + minutes * 60_000;
let delivered0 = smtp.delivered.length;
let stopSampling = false;
const sampler = (async () => {
  for (let i = 1; !stopSampling; i++) {
    const at = soakStart + i * sampleMs;
    while (Date.now() < at && !stopSampling) await sleep(Math.min(250, at - Date.now()));
    if (stopSampling) break;
    const seconds = sampleMs / 1000;
    const { latencies, errors } = interval;
    interval = { latencies: [], errors: {} };
    const delivered = smtp.delivered.length;
    const emails = (delivered - delivered0) / seconds;
    delivered0 = delivered;
    const rssMb = {
      ...processRss(system.servers.dir, system.procs),
      driver: process.memoryUsage().rss / 2 ** 20,
    };
    const q = await queueDepths().catch(() => ({ queues: {}, depth: NaN, backlog: NaN, retained: NaN }));
    const c = await storeCounts().catch(() => ({ scored: NaN, conversions: NaN }));
    latencies.sort((a, b) => a - b);
    const pick = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    const s: Sample = {
      t: Math.round((at - soakStart) / 1000),
      requests: latencies.length / seconds,
      errors,
      p50: pick(0.5),
      p99: pick(0.99),
      emails,
      ...c,
      ...q,
      rssMb,
      load1: os.loadavg()[0]!,
    };
    samples.push(s);
    const mem = Object.entries(rssMb)
      .map(([k, v]) => `${k} ${Math.round(v)}`)
      .join(' ');
    const errs =
      Object.entries(errors)
        .map(([k, v]) => `${k}:${v}`)
        .join(',') || '0';
    say(
      `${s.requests.toFixed(1)} req/s (non-2xx ${errs}) p50 ${s.p50.toFixed(0)} p99 ${s.p99.toFixed(0)} ms; ${emails.toFixed(1)} emails/s; scored ${s.scored}, conversions ${s.conversions}; queues ${s.depth} (backlog ${s.backlog}, kept ${s.retained}); load ${s.load1.toFixed(1)}; MB ${mem}`,
    );
  }
})();
say(`soak: ${minutes} min at ${rate.toFixed(2)} ticks/s, a sample every ${sampleMs / 1000} s`);
const loop = await openLoop({
  rate,
  end: soakEnd,
  firstN: n,
  maxInFlight: Math.max(50, Math.ceil(rate * 30)),
  work,
  onShed: () => (interval.errors.shed = (interval.errors.shed ?? 0) + 1),
});
stopSampling = true;
await sampler;
say(`load stopped (${loop.started} ticks started, ${loop.shed} shed); waiting for the queues to drain`);
const drainLimit = Number(args['drain-minutes']) * 60_000;
const drainFrom = Date.now();
const drainBacklog = await waitFor(async () => (await queueDepths()).backlog === 0, drainLimit);
const drainAll =
  drainBacklog === null
    ? null
    : await waitFor(
        async () => (await queueDepths()).depth === 0,
        Math.max(0, drainLimit - (Date.now() - drainFrom)),
      );
const lastDepth = await queueDepths().catch(() => null);
const restarts = Object.fromEntries(
  Object.entries(system.procs).map(([k, p]) => [k, p.restarts - restarts0[k]!]),
);
const statuses = [...tally.requests.byStatus].map(([k, v]) => `${k}: ${v}`).join(', ');
const info: RunInfo = {
  date: new Date(soakStart).toISOString().replace('T', ' ').slice(0, 16) + ' UTC',
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`,
  loadStart,
  loadEnd: os.loadavg(),
  command: `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim(),
  capacity,
  rate,
  tick: TICK,
  minutes,
  sampleSeconds: sampleMs / 1000,
  totals: [
    `requests (calibration included): ${statuses}`,
    `ticks started in the soak ${loop.started}, shed ${loop.shed}`,
    `emails received by the SMTP server ${smtp.delivered.length} (${smtp.delivered.filter((d) => d.handoffId).length} handoff notifications); webhooks received ${receiver.received.length}`,
    `leads acknowledged ${tally.ackedEmails.size}, events acknowledged ${tally.ackedEventIds.size}, unsubscribed ${tally.unsubscribed.size}`,
    `queues at the end: ${lastDepth ? JSON.stringify(Object.fromEntries(Object.entries(lastDepth.queues).filter(([, v]) => v))) : 'unknown'}`,
    '`driver` is this script (it keeps every acknowledged email, event id and received message: it grows by design and is not judged)',
  ],
  drainBacklog,
  drainAll,
  drainLimit: drainLimit / 1000,
  restarts,
};
const judged = samples.map((s) => ({
  ...s,
  rssMb: Object.fromEntries(Object.entries(s.rssMb).filter(([k]) => k !== 'driver')),
}));
const v = finalVerdict(verdict(judged), info);
const report = reportMarkdown(info, samples, v);
const dir = path.resolve(root, args.out!, new Date(soakStart).toISOString().replace(/[:.]/g, '-'));
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'report.md'), report);
writeFileSync(path.join(dir, 'soak.svg'), soakSvg(samples));
writeFileSync(path.join(dir, 'samples.json'), JSON.stringify({ info, samples, verdict: v }, null, 2));
process.stdout.write(
  `\n${report}\nwritten to ${path.relative(root, dir)}/{report.md,soak.svg,samples.json}\n`,
);

await system.stop();
say(v.ok ? 'no growth, no 5xx' : 'FAILED: see the verdict');
process.exit(v.ok ? 0 : 1);
