/**
 * `npm run bench`: every benchmark in turn, each in its own process, with progress and a summary.
 * Each bench prints its own result table (and compares against its own baseline in the same run).
 *
 *   npm run bench                       every bench at its default size
 *   npm run bench -- --quick            small sizes: the whole suite in a few minutes
 *   npm run bench -- --only send,import
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { progress } from './helpers.js';

/** The benches, in the order they run, with the options of a quick run. */
const benches: { name: string; what: string; quick: string[] }[] = [
  { name: 'intake', what: 'form submissions per second', quick: ['--seconds', '3', '--warmup', '1'] },
  {
    name: 'import',
    what: 'CSV import rows per second and memory',
    quick: ['--rows', '20000', '--db-rows', '1000', '--upsert-rows', '100'],
  },
  { name: 'send', what: 'emails delivered per second', quick: ['--n', '200', '--burst', '500'] },
  { name: 'sequences', what: 'sequence steps per second', quick: ['--leads', '100', '--runs', '1'] },
  {
    name: 'reports',
    what: 'funnel report against raw counts per stage',
    quick: ['--sizes', '2000', '--runs', '1'],
  },
];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    [
      'usage: npm run bench -- [--quick] [--only name,name]',
      '',
      'Runs every benchmark in turn, each in its own process; each compares against its own baseline',
      "measured in the same run. `npx tsx bench/<name>.ts --help` lists one bench's options.",
      '',
      '  --quick        small sizes (minutes, not tens of minutes); not figures of record',
      '  --only LIST    comma-separated bench names',
      '  --help, -h     this text',
      '',
      'benches:',
      ...benches.map((b) => `  ${b.name.padEnd(10)} ${b.what}`),
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const only = values.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((n) => !benches.some((b) => b.name === n)) ?? [];
if (unknown.length) {
  process.stderr.write(
    `unknown bench: ${unknown.join(', ')} (known: ${benches.map((b) => b.name).join(', ')})\n`,
  );
  process.exit(2);
}
const chosen = benches.filter((b) => !only || only.includes(b.name));
const root = path.resolve(import.meta.dirname, '..');
const summary: { name: string; seconds: number; code: number | null }[] = [];

for (const [i, b] of chosen.entries()) {
  const args = values.quick ? b.quick : [];
  progress(`[${i + 1}/${chosen.length}] ${b.name}: ${b.what} ${args.join(' ')}`.trimEnd());
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'bench', `${b.name}.ts`), ...args],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  const [code] = (await once(child, 'exit')) as [number | null];
  const seconds = (performance.now() - started) / 1000;
  summary.push({ name: b.name, seconds, code });
  progress(
    `[${i + 1}/${chosen.length}] ${b.name} ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${seconds.toFixed(0)}s`,
  );
}

process.stdout.write('\n| bench | result | seconds |\n|---|---|---:|\n');
for (const s of summary) {
  process.stdout.write(
    `| ${s.name} | ${s.code === 0 ? 'ok' : `failed (${s.code})`} | ${s.seconds.toFixed(0)} |\n`,
  );
}
process.exit(summary.every((s) => s.code === 0) ? 0 : 1);
