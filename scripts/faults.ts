// npm run test:faults [-- --minutes N]: the system's guarantees under fire. See docs/faults.md.
import { parseArgs } from 'node:util';
import { drained, invariants, type Check } from './faults/invariants.js';
import { until } from './faults/servers.js';
import type { SmtpMode } from './faults/smtp.js';
import { configure, newTally, tick } from './faults/workload.js';
import { markdownTable, sayer, startSystem } from './system/system.js';

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
const say = sayer(t0, process.stdout);

say('starting private servers');
const system = await startSystem();
const { smtp, receiver, servers, base, procs, ready } = system;
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

await system.connect();
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

const table = markdownTable;
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
// what the API logged as 500s (an outage should answer 503): the distinct messages
const errors = new Map<string, number>();
for (const line of procs.api!.output.join('').split('\n')) {
  if (!line.includes('"level":50')) continue;
  const m = /"msg":"([^"]*)"/.exec(line)?.[1] ?? '';
  const e = /"message":"([^"]{0,120})/.exec(line)?.[1] ?? '';
  const url = /"url":"([^"?]{0,60})/.exec(line)?.[1] ?? '';
  const k = `${m} ${url} ${e}`;
  errors.set(k, (errors.get(k) ?? 0) + 1);
}
if (errors.size)
  process.stdout.write(`\nAPI errors logged\n${[...errors].map(([k, n]) => `  ${n} x ${k}`).join('\n')}\n`);
process.stdout.write(
  `\nWhat held\n${table([['invariant', 'held', 'detail'], ...checks.map((c) => [c.name, c.held ? 'yes' : 'NO', c.detail])])}\n\n`,
);

await system.stop();
const broke = checks.filter((c) => !c.held);
say(broke.length ? `${broke.length} invariant(s) broke` : 'every invariant held');
process.exit(broke.length ? 1 : 0);
