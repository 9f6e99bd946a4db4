/**
 * Hot lookups on the embedded default (FerretDB on PostgreSQL), without and then with leadflow's
 * GIN read indexes (src/lib/ferretdb-indexes.ts), in the same run on the same data:
 * findOne by _id, by emailKey, find with $in of 100 email keys, a send by its key, enrollments of a
 * lead, an update by emailKey.
 *
 *   npx tsx bench/ferretdb-reads.ts [--max 100000] [--reps 30]   (sizes 1,000 and --max)
 *
 * Servers: the shared local ones (bench/helpers.ts) unless MONGODB_URI / EMBEDDED_POSTGRES_URL are
 * set; start them with scripts/services.sh up.
 * The data is seeded with raw insertMany in batches of 1,000, with progress; the database is
 * dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient, ObjectId, type Db } from 'mongodb';
import pg from 'pg';
import { ensureFerretdbReadIndexes } from '../src/lib/ferretdb-indexes.js';
import { createLogger } from '../src/lib/logger.js';
import { benchArgs, benchConfig } from './helpers.js';

const args = benchArgs(
  `Hot lookups on FerretDB on PostgreSQL without and with leadflow's GIN read indexes, same data.

usage: npx tsx bench/ferretdb-reads.ts [options]   (measures at 1,000 and at --max leads)`,
  {
    max: { default: 100_000, help: 'the larger size measured (besides 1,000)' },
    reps: { default: 30, help: 'calls per operation' },
  },
);
const sizes = [...new Set([1000, args.max])];
const reps = args.reps;

function servers() {
  const config = benchConfig();
  if (!config.mongodbUri || !config.embeddedPostgresUrl) {
    throw new Error(
      'needs the embedded default (FerretDB on PostgreSQL): MONGODB_URI and EMBEDDED_POSTGRES_URL',
    );
  }
  return { mongodbUri: config.mongodbUri, postgresUrl: config.embeddedPostgresUrl };
}

const lead = (i: number) => ({
  _id: new ObjectId(),
  email: `Person${i}@Example.com`,
  emailKey: `person${i}@example.com`,
  firstName: 'Per',
  lastName: `Son ${i}`,
  company: `Company ${i % 997}`,
  status: 'new',
  lifecycleStage: 'lead',
  score: i % 100,
  createdAt: new Date(Date.now() - i * 1000),
});

async function seed(db: Db, n: number): Promise<ObjectId[]> {
  const leads = db.collection('leads');
  const sends = db.collection('sends');
  const enrollments = db.collection('enrollments');
  await leads.createIndex({ emailKey: 1 }, { unique: true });
  await sends.createIndex({ key: 1 }, { unique: true });
  await enrollments.createIndex({ leadId: 1, sequenceKey: 1 }, { unique: true });
  const ids: ObjectId[] = [];
  const started = Date.now();
  for (let from = 0; from < n; from += 1000) {
    const batch = Array.from({ length: Math.min(1000, n - from) }, (_, j) => lead(from + j));
    ids.push(...batch.map((b) => b._id));
    await leads.insertMany(batch, { ordered: false });
    await sends.insertMany(
      batch.map((b, j) => ({ key: `${String(b._id)}:welcome:1`, leadId: b._id, step: 1, n: from + j })),
      { ordered: false },
    );
    await enrollments.insertMany(
      batch.map((b) => ({ leadId: b._id, sequenceKey: 'welcome', state: 'active' })),
      { ordered: false },
    );
    process.stdout.write(`\r  seeding ${n}: ${Math.min(n, from + 1000)} leads (+ sends, enrollments)`);
  }
  process.stdout.write(` in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  return ids;
}

type Op = { name: string; run: (i: number) => Promise<unknown> };

function ops(db: Db, ids: ObjectId[]): Op[] {
  const n = ids.length;
  const pick = (i: number) => (i * 7919) % n;
  return [
    { name: 'findOne by _id', run: (i) => db.collection('leads').findOne({ _id: ids[pick(i)] }) },
    {
      name: 'findOne by emailKey',
      run: (i) => db.collection('leads').findOne({ emailKey: `person${pick(i)}@example.com` }),
    },
    {
      name: 'find emailKey $in 100 keys',
      run: (i) =>
        db
          .collection('leads')
          .find({
            emailKey: { $in: Array.from({ length: 100 }, (_, j) => `person${pick(i + j)}@example.com`) },
          })
          .toArray(),
    },
    {
      name: 'findOne send by key',
      run: (i) => db.collection('sends').findOne({ key: `${String(ids[pick(i)])}:welcome:1` }),
    },
    {
      name: 'find enrollments by lead',
      run: (i) =>
        db
          .collection('enrollments')
          .find({ leadId: ids[pick(i)] })
          .toArray(),
    },
    {
      name: 'updateOne by emailKey',
      run: (i) =>
        db.collection('leads').updateOne({ emailKey: `person${pick(i)}@example.com` }, { $set: { seen: i } }),
    },
  ];
}

async function time(op: Op, offset: number): Promise<{ p50: number; p95: number }> {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = process.hrtime.bigint();
    await op.run(offset + i);
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  t.sort((a, b) => a - b);
  return { p50: t[Math.floor(t.length / 2)]!, p95: t[Math.min(t.length - 1, Math.floor(t.length * 0.95))]! };
}

async function dropGin(sql: pg.Client, schema: string) {
  const r = await sql.query<{ indexname: string }>(
    `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE 'lf\\_%\\_gin'`,
    [schema],
  );
  for (const { indexname } of r.rows) await sql.query(`DROP INDEX "${schema}"."${indexname}"`);
}

const { mongodbUri, postgresUrl } = servers();
const client = await MongoClient.connect(mongodbUri, { maxPoolSize: 8 });
const sql = new pg.Client({ connectionString: postgresUrl });
await sql.connect();
const logger = createLogger('warn', 'bench');
const rows: string[] = [];
try {
  for (const n of sizes) {
    const dbName = `bench_reads_${randomBytes(3).toString('hex')}`;
    const db = client.db(dbName);
    try {
      const ids = await seed(db, n);
      await dropGin(sql, dbName);
      await sql.query(`ANALYZE`);
      const list = ops(db, ids);
      const without: Record<string, { p50: number; p95: number }> = {};
      for (const op of list) {
        process.stdout.write(`  ${n}: ${op.name} without GIN… `);
        await op.run(0); // warm
        without[op.name] = await time(op, 1);
        process.stdout.write(`${without[op.name]!.p50.toFixed(2)} ms\n`);
      }
      const t0 = Date.now();
      const made = await ensureFerretdbReadIndexes(postgresUrl, dbName, logger);
      const buildS = (Date.now() - t0) / 1000;
      console.log(`  ${n}: ${made.created} GIN indexes built in ${buildS.toFixed(1)}s`);
      await sql.query(`ANALYZE`);
      for (const op of list) {
        await op.run(0);
        const w = await time(op, 1 + reps);
        const wo = without[op.name]!;
        rows.push(
          `| ${n.toLocaleString('en')} | ${op.name} | ${wo.p50.toFixed(2)} | ${wo.p95.toFixed(2)} | ${w.p50.toFixed(2)} | ${w.p95.toFixed(2)} | ${(wo.p50 / w.p50).toFixed(1)}× |`,
        );
        console.log(rows.at(-1));
      }
      rows.push(
        `| ${n.toLocaleString('en')} | (building the GIN indexes once) | | | ${buildS.toFixed(1)} s | | |`,
      );
    } finally {
      await db.dropDatabase().catch(() => undefined);
    }
  }
} finally {
  await client.close();
  await sql.end();
}
console.log(`\nferretdb-reads: ${reps} calls per operation, one at a time, node ${process.version}\n`);
console.log(
  '| leads | operation | without p50 ms | without p95 ms | with GIN p50 ms | with GIN p95 ms | speed-up |',
);
console.log('|---:|---|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
