/**
 * Website tracking on the embedded default: an anonymous page view (what `POST /t/e` does after
 * parsing) and an identification (what a form submission carrying `lf_vid` adds), with 1,000 and
 * 100,000 anonymous visits of other visitors stored, against the baselines of a raw driver insert
 * of the same document and a raw `_id` lookup, measured in this run.
 *
 *   npx tsx bench/tracking.ts [--sizes 1000,100000] [--runs 20] [--keep]
 *
 * Seeds a database of its own (`bench_tracking`) in bulk with progress; a size already seeded is
 * reused. `--keep` leaves the data for next time.
 */
import mongoose from 'mongoose';
import { createLogger } from '../src/lib/logger.js';
import { ensureLocalServices } from '../src/lib/local-services.js';
import { connectRuntime } from '../src/lib/runtime.js';
import { shutdown } from '../src/lib/shutdown.js';
import { AnonymousVisit, identifyVisitor, recordPageView } from '../src/modules/events/index.js';
import { Lead } from '../src/modules/leads/index.js';
import { benchArgs, benchConfig, deleteQueueKeys, progress } from './helpers.js';

const opts = benchArgs(
  `usage: npx tsx bench/tracking.ts [--small 1000] [--large 100000] [--runs 20] [--keep 0|1]
Times an anonymous page view and an identification (5 page views attached) with --small and
--large anonymous visits of other visitors stored, against a raw insert and a raw _id lookup.`,
  {
    small: { default: 1000, help: 'anonymous visits stored for the first measurement' },
    large: { default: 100_000, help: 'anonymous visits stored for the second measurement' },
    runs: { default: 20, help: 'identifications per size (each after 5 page views)' },
    keep: { default: 0, help: '1: keep the seeded database for next time' },
  },
);
const sizes = [opts.small, opts.large];
const runs = opts.runs;
const keep = opts.keep === 1;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function seedTo(n: number): Promise<void> {
  let have = await AnonymousVisit.estimatedDocumentCount();
  const now = Date.now();
  while (have < n) {
    const docs = Array.from({ length: Math.min(2000, n - have) }, (_, k) => {
      const i = have + k;
      const visitor = `seed${String(Math.floor(i / 5)).padStart(17, '0')}`;
      return {
        _id: `${visitor}:pv${i}`,
        visitor,
        at: new Date(now - (i % 1000) * 60_000),
        host: 'www.example.com',
        path: `/page/${i % 50}`,
        title: 'A page',
        referrer: null,
        landingPage: `https://www.example.com/page/${i % 50}`,
      };
    });
    await AnonymousVisit.collection.insertMany(docs as never[], { ordered: false });
    have += docs.length;
    if (have % 10_000 === 0 || have === n) progress(`seeding anonymous visits ${have}/${n}`);
  }
}

async function measure(n: number) {
  const lead = await Lead.create({ email: `bench-${n}@example.com`, emailKey: `bench-${n}@example.com` });
  const view = [] as number[];
  const rawInsert = [] as number[];
  const identify = [] as number[];
  const rawFind = [] as number[];
  for (let r = 0; r < runs; r++) {
    const visitor = `b${n}r${r}${String(Date.now()).slice(-8)}`.padEnd(22, 'x');
    for (let p = 0; p < 5; p++) {
      view.push(
        await timed(() =>
          recordPageView({
            visitor,
            pageViewId: `pv${r}x${p}abcdef`,
            url: new URL(`https://www.example.com/pricing?utm_source=bench${p}`),
            title: 'Pricing',
            at: new Date(),
          }),
        ),
      );
      rawInsert.push(
        await timed(() =>
          AnonymousVisit.collection.insertOne({
            _id: `raw${visitor}:${p}`,
            visitor: `raw${visitor}`,
            at: new Date(),
            host: 'www.example.com',
            path: '/pricing',
            landingPage: 'https://www.example.com/pricing',
          } as never),
        ),
      );
    }
    identify.push(await timed(() => identifyVisitor(visitor, lead._id, 'form', new Date())));
    rawFind.push(await timed(() => AnonymousVisit.collection.findOne({ _id: `raw${visitor}:0` as never })));
    progress(`${n} stored: run ${r + 1}/${runs}`);
  }
  return {
    stored: n,
    pageViewMs: median(view),
    rawInsertMs: median(rawInsert),
    identifyMs: median(identify),
    rawIdLookupMs: median(rawFind),
  };
}

const logger = createLogger('warn', 'bench');
const config = await ensureLocalServices(
  benchConfig({ LOG_LEVEL: 'warn', QUEUE_PREFIX: `bench-tracking-${Date.now()}` }, { sharedServers: false }),
  logger,
);
// identification records page_view events, which are handed to scoring's queue as in production
const rt = await connectRuntime(config, logger, { dbName: 'bench_tracking' });
const results = [];
for (const n of sizes) {
  await seedTo(n);
  results.push(await measure(n));
}
const ms = (x: number) => x.toFixed(1);
process.stdout.write(
  [
    '',
    '| stored | page view ms | raw insert ms | identify ms | raw _id lookup ms |',
    '|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.stored.toLocaleString('en')} | ${ms(r.pageViewMs)} | ${ms(r.rawInsertMs)} | ${ms(r.identifyMs)} | ${ms(r.rawIdLookupMs)} |`,
    ),
    '',
  ].join('\n'),
);
if (!keep) await mongoose.connection.db!.dropDatabase();
await shutdown(rt.logger, 20_000);
await deleteQueueKeys(config.redisUrl, config.queuePrefix);
