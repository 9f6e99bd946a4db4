/**
 * The funnel report's time at 10,000 and 100,000 leads on the embedded default, against the
 * baseline of a raw `countDocuments` per stage on the same data, measured in this run.
 *
 *   npx tsx bench/reports.ts [--sizes 10000,100000] [--runs 3] [--keep]
 *
 * Seeds a database of its own per size (`bench_reports_<n>`) with believable stage dates over a year, in bulk
 * inserts with progress; a size already seeded is reused. `--keep` leaves the data for next time.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import mongoose, { Types } from 'mongoose';
import { Lead, lifecycleStages } from '../src/modules/leads/index.js';
import { funnelReport } from '../src/modules/reports/index.js';

const args = process.argv.slice(2);
if (args.includes('--help')) {
  process.stdout.write(
    'usage: npx tsx bench/reports.ts [--sizes 10000,100000] [--runs 3] [--keep]\n' +
      'Times GET /api/reports/funnel (the service function) against a raw countDocuments per stage.\n',
  );
  process.exit(0);
}
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const sizes = flag('--sizes', '10000,100000').split(',').map(Number);
const runs = Number(flag('--runs', '3'));
const keep = args.includes('--keep');

const root = path.resolve(import.meta.dirname, '..');
const out = execFileSync('bash', [path.join(root, 'scripts/services.sh'), 'up'], { encoding: 'utf8' });
const mongoUri = /^MONGODB_URI=(.+)$/m.exec(out)![1]!.trim();

const DAY = 86_400_000;
const start = Date.UTC(2025, 11, 1);
const sources = ['Web', 'Trade show', 'Webinar', 'Partner', 'Paid search'];
const campaigns = ['spring', 'summer', 'expo', 'brand', null];

/** One lead: reaches each next stage with a falling chance (≈13% reach opportunity), days apart. */
function leadDoc(i: number) {
  let t = start + ((i * 7919) % 365) * DAY;
  const stageDates: Record<string, Date> = { lead: new Date(t) };
  const chances = { mql: 0.45, sql: 0.5, opportunity: 0.6, customer: 0.3 } as const;
  let furthest = 'lead';
  let h = i;
  for (const [stage, p] of Object.entries(chances)) {
    h = (h * 1103515245 + 12345) % 2147483648;
    if (h / 2147483648 >= p) break;
    t += (1 + (h % 20)) * DAY;
    stageDates[stage] = new Date(t);
    furthest = stage;
  }
  return {
    _id: new Types.ObjectId(),
    email: `bench${i}@example.com`,
    emailKey: `bench${i}@example.com`,
    status: 'open',
    lifecycleStage: furthest,
    source: sources[i % sources.length],
    attribution: campaigns[i % 5]
      ? { firstTouch: { at: new Date(start), utm_campaign: campaigns[i % 5] } }
      : null,
    stageDates,
    mergedInto: null,
    createdAt: new Date(start),
    updatedAt: new Date(start),
  };
}

async function seedTo(n: number): Promise<void> {
  let have = await Lead.estimatedDocumentCount();
  const batch = 2000;
  while (have < n) {
    const docs = Array.from({ length: Math.min(batch, n - have) }, (_, k) => leadDoc(have + k));
    await Lead.collection.insertMany(docs, { ordered: false });
    have += docs.length;
    process.stderr.write(`\r[bench] seeding leads ${have}/${n}`);
  }
  process.stderr.write('\n');
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rawCounts = () =>
  Promise.all(
    lifecycleStages.map((s) => Lead.countDocuments({ [`stageDates.${s}`]: { $gte: new Date(0) } })),
  );

const rows: string[] = [];
for (const n of sizes) {
  // a database per size: a kept larger seed must not stand in for a smaller size
  await mongoose.connect(mongoUri, { dbName: `bench_reports_${n}` });
  await Lead.createIndexes();
  await seedTo(n);
  const stored = await Lead.estimatedDocumentCount();
  if (stored !== n)
    throw new Error(`bench_reports_${n} holds ${stored} leads, not ${n}: drop it and run again`);
  const measured: Record<string, number[]> = {
    raw: [],
    funnel: [],
    bySource: [],
    bySequence: [],
    period: [],
  };
  for (let r = 0; r < runs; r++) {
    process.stderr.write(`[bench] ${n} leads, run ${r + 1}/${runs}\n`);
    measured.raw!.push(await time(rawCounts));
    measured.funnel!.push(await time(() => funnelReport({})));
    measured.bySource!.push(await time(() => funnelReport({ by: 'source' })));
    measured.bySequence!.push(await time(() => funnelReport({ by: 'sequence' })));
    measured.period!.push(
      await time(() =>
        funnelReport({ from: new Date(Date.UTC(2026, 5, 1)), to: new Date(Date.UTC(2026, 6, 1)) }),
      ),
    );
  }
  const raw = median(measured.raw!);
  for (const [k, v] of Object.entries(measured)) {
    const m = median(v);
    rows.push(`| ${n.toLocaleString('en')} | ${k} | ${m.toFixed(0)} ms | ${(m / raw).toFixed(2)}× |`);
  }
  if (!keep) await mongoose.connection.db!.dropDatabase();
  await mongoose.disconnect();
}
process.stdout.write(
  `\n| leads | what | median of ${runs} | vs raw countDocuments per stage |\n|---|---|---|---|\n${rows.join('\n')}\n`,
);
