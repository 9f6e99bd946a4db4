/**
 * `npm run bench`: every benchmark, each against its own baseline in the same run, each run
 * `--runs` times in its own process; the tables and result lines each printed are merged into the
 * median of the runs (bench/median.ts) and written to BENCHMARKS.md's generated section, between
 * `<!-- bench:start -->` and `<!-- bench:end -->`, with the machine and the servers' versions.
 *
 *   npm run bench                          every bench at its default sizes, BENCHMARKS.md rewritten
 *   npm run bench -- --no-write            the same, printed only
 *   npm run bench -- --quick               small sizes, printed only (not figures of record)
 *   npm run bench -- --only send,import --runs 5
 *
 * Seeded data is reused where the bench can: intake (`--keep 1`, one database per size, seeded
 * once, what a run wrote is removed after it), tracking (`--keep 1`) and reports (`--keep`) leave
 * their seeded databases for the next run and the next `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { progress } from './helpers.js';
import { medianOutput } from './median.js';
import {
  describeMachine,
  renderSection,
  withRecordsReplaced,
  writeSection,
  type BenchRecord,
} from './record.js';

type Bench = {
  name: string;
  file: string;
  what: string;
  /** options of the default run (the figures of record) */
  args: string[];
  /** runs of the default run; 1 where a run is too slow to repeat (`note` says why) */
  runs: number;
  note?: string;
  quick: string[];
};

/**
 * The benches, in the order they run. Default sizes and runs chosen so the whole suite takes
 * ≈ 20–25 minutes on this 2-core machine when quiet (≈ 45 under a load average of 10).
 */
const benches: Bench[] = [
  {
    name: 'intake',
    file: 'intake',
    what: 'form submissions per second, into an empty store and with leads stored',
    args: ['--existing', '0,1000,100000', '--seconds', '5', '--warmup', '1', '--keep', '1'],
    runs: 3,
    quick: ['--existing', '0,1000', '--seconds', '2', '--warmup', '1', '--keep', '1'],
  },
  {
    name: 'import',
    file: 'import',
    what: 'CSV import rows per second and memory',
    args: ['--rows', '100000', '--db-rows', '2000', '--upsert-rows', '100'],
    runs: 3,
    quick: ['--rows', '20000', '--db-rows', '500', '--upsert-rows', '50'],
  },
  {
    name: 'send',
    file: 'send',
    what: 'emails delivered per second, empty and with leads and earlier sends stored',
    args: ['--n', '200', '--burst', '1000', '--existing', '1000,100000'],
    runs: 1,
    note: 'One run: seeding 100,000 leads and 100,000 earlier sends and draining the burst take most of it',
    quick: ['--n', '50', '--burst', '100', '--existing', '1000'],
  },
  {
    name: 'sequences',
    file: 'sequences',
    what: 'sequence steps per second',
    args: ['--leads', '100', '--runs', '3'],
    runs: 1,
    note: 'One run of the bench, which takes the median of its own 3 runs',
    quick: ['--leads', '50', '--runs', '1'],
  },
  {
    name: 'scoring',
    file: 'scoring',
    what: 'events per second from POST /api/events until the scores are stored',
    args: ['--events', '2000', '--leads', '200', '--decay-leads', '0'],
    runs: 3,
    quick: ['--events', '200', '--leads', '20', '--batch', '100', '--decay-leads', '0'],
  },
  {
    name: 'decay',
    file: 'scoring',
    what: 'one score decay pass over the positive leads (and its extrapolation to 1,000,000)',
    args: ['--events', '100', '--leads', '10', '--batch', '50', '--decay-leads', '20000'],
    runs: 1,
    note:
      'One run: the pass costs ≈ 1.5–2 ms per lead on this machine when quiet (≈ 13 ms under load); ' +
      '100,000 leads (`--full`) takes ≈ 4 minutes with its seeding',
    quick: ['--events', '50', '--leads', '5', '--batch', '50', '--decay-leads', '2000'],
  },
  {
    name: 'handoff',
    file: 'handoff',
    what: 'qualifying event → sales notification latency, and many leads qualifying at once',
    args: ['--leads', '200', '--latency', '20', '--load', '200'],
    runs: 1,
    note:
      'One run: conversions run at ≈ 8/s on this machine when quiet (≈ 2–4/s under load), so 200 leads ' +
      'twice take minutes; 1,000 leads (`--full`) several minutes more',
    quick: ['--leads', '50', '--latency', '5', '--load', '20'],
  },
  {
    name: 'tracking',
    file: 'tracking',
    what: 'page views and identification with anonymous visits stored',
    args: ['--small', '1000', '--large', '100000', '--runs', '20', '--keep', '1'],
    runs: 1,
    note: 'One run of the bench, which takes the median of its own 20 identifications per size',
    quick: ['--small', '500', '--large', '2000', '--runs', '5'],
  },
  {
    name: 'webhooks',
    file: 'webhooks',
    what: 'webhook deliveries per second',
    args: ['--n', '200'],
    runs: 3,
    quick: ['--n', '50'],
  },
  {
    name: 'reports',
    file: 'reports',
    what: 'funnel report against raw counts per stage',
    args: ['--sizes', '10000', '--runs', '3', '--keep'],
    runs: 1,
    note:
      'One run of the bench, which takes the median of its own 3 runs; 100,000 leads (`--full`) adds ' +
      'seeding 100,000 leads and a minute of raw counts per run (a report there takes ≈ 17 s), so not in the default run',
    quick: ['--sizes', '2000', '--runs', '1', '--keep'],
  },
];
/** `--full`: the sizes the default run leaves out for time. */
const full: Record<string, string[]> = {
  decay: ['--events', '100', '--leads', '10', '--batch', '50', '--decay-leads', '100000'],
  handoff: ['--leads', '1000', '--latency', '40', '--load', '200'],
  reports: ['--sizes', '10000,100000', '--runs', '1', '--keep'],
};

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
    write: { type: 'boolean' },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    [
      'usage: npm run bench -- [--quick | --full] [--only name,name] [--runs N] [--no-write | --write]',
      '',
      'Runs every benchmark, each against its own baseline measured in the same run and each --runs',
      'times in its own process, and rewrites the generated section of BENCHMARKS.md with the median',
      "of every figure, the machine and the versions. `npx tsx bench/<name>.ts --help` lists one bench's",
      'options.',
      '',
      '  --quick        small sizes, one run each; never writes BENCHMARKS.md unless --write',
      '  --full         the sizes the default leaves out for time: decay over 100,000 leads, handoff of',
      '                 1,000 at once, reports at 100,000 leads (an hour or more); writes a section of',
      '                 its own (bench-full markers), so it never erases the default figures',
      '  --only LIST    comma-separated bench names',
      '  --runs N       runs of every bench (default: per bench, below)',
      '  --no-write     print the figures, leave BENCHMARKS.md alone',
      '  --write        write BENCHMARKS.md even with --quick or --only (with --only, only those',
      '                 benches are replaced in the section; the others keep their figures)',
      '  --help, -h     this text',
      '',
      'benches (default runs, default options):',
      ...benches.map(
        (b) => `  ${b.name.padEnd(10)} ×${b.runs}  ${b.what}\n${' '.repeat(18)}${b.args.join(' ')}`,
      ),
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const only = values.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((n) => !benches.some((b) => b.name === n)) ?? [];
const runsOption = values.runs === undefined ? undefined : Number(values.runs);
if (unknown.length || (runsOption !== undefined && !(Number.isInteger(runsOption) && runsOption >= 1))) {
  process.stderr.write(
    unknown.length
      ? `unknown bench: ${unknown.join(', ')} (known: ${benches.map((b) => b.name).join(', ')})\n`
      : `--runs must be a whole number >= 1 (got ${values.runs})\n`,
  );
  process.exit(2);
}
const chosen = benches.filter((b) => !only || only.includes(b.name));
const root = path.resolve(import.meta.dirname, '..');
const write = values['no-write'] ? false : (values.write ?? (!values.quick && !only));

/** One run of a bench: its stdout streamed to ours and kept; its stderr (progress) passed through. */
function runOnce(
  file: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; seconds: number }> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'bench', `${file}.ts`), ...args],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    process.stdout.write(chunk);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, seconds: (performance.now() - started) / 1000 }));
  });
}

async function runBench(b: Bench, i: number): Promise<BenchRecord> {
  const args = values.quick ? b.quick : values.full ? (full[b.name] ?? b.args) : b.args;
  const runs = runsOption ?? (values.quick ? 1 : b.runs);
  const outputs: string[] = [];
  const seconds: number[] = [];
  let ok = true;
  for (let r = 1; r <= runs && ok; r++) {
    progress(`[${i + 1}/${chosen.length}] ${b.name}, run ${r}/${runs}: ${b.what} (${args.join(' ')})`);
    const res = await runOnce(b.file, args);
    seconds.push(res.seconds);
    ok = res.code === 0;
    if (ok) outputs.push(res.stdout);
    progress(
      `[${i + 1}/${chosen.length}] ${b.name}, run ${r}/${runs} ${ok ? 'done' : `FAILED (exit ${res.code})`} in ${res.seconds.toFixed(0)}s`,
    );
  }
  const output = outputs.length ? medianOutput(outputs) : '(no run finished)';
  const command = `npx tsx bench/${b.file}.ts ${args.join(' ')}`.trimEnd();
  return {
    name: b.name,
    what: b.what,
    command,
    runs,
    seconds,
    ok,
    note: runs === 1 && !values.quick ? b.note : undefined,
    output,
  };
}

const machine = await describeMachine(root);
progress(`machine: ${machine.cpus}, ${machine.memory}, load ${machine.load}; node ${machine.node}`);
progress(`servers: ${machine.ferretdb}; ${machine.postgres}; ${machine.redis}`);
const records: BenchRecord[] = [];
for (const [i, b] of chosen.entries()) records.push(await runBench(b, i));

const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(
  ' ',
);
const loadAfter = os
  .loadavg()
  .map((l) => l.toFixed(1))
  .join(' / ');
const kind = values.full ? 'full' : 'default';
const section = renderSection(machine, command, records, loadAfter, kind);
process.stdout.write(`\n\n${section}\n`);
const benchmarks = path.join(root, 'BENCHMARKS.md');
// --only … --write replaces just those benches' blocks in the section the last run wrote
const merged =
  write && only
    ? withRecordsReplaced(
        readFileSync(benchmarks, 'utf8'),
        records,
        { date: machine.date, command, load: machine.load },
        kind,
      )
    : undefined;
if (merged) {
  writeFileSync(benchmarks, merged);
  progress(`BENCHMARKS.md: ${only!.join(', ')} replaced in the generated section (${kind})`);
} else if (write) {
  writeSection(benchmarks, section, kind);
  progress(`BENCHMARKS.md: generated section (${kind}) rewritten`);
} else progress('BENCHMARKS.md left alone (--quick, --only or --no-write; --write to write anyway)');
process.stdout.write('\n| bench | result | runs | seconds |\n|---|---|---:|---:|\n');
for (const r of records) {
  const total = r.seconds.reduce((a, b) => a + b, 0);
  process.stdout.write(
    `| ${r.name} | ${r.ok ? 'ok' : 'failed'} | ${r.seconds.length} | ${total.toFixed(0)} |\n`,
  );
}
process.exit(records.every((r) => r.ok) ? 0 : 1);
