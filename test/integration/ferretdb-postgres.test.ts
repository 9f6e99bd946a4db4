import { MongoClient, ObjectId } from 'mongodb';
import mongoose from 'mongoose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureFerretdbReadIndexes, indexName } from '../../src/lib/ferretdb-indexes.js';
import { createLogger } from '../../src/lib/logger.js';
import { openRequestsFilter } from '../../src/modules/qualification/index.js';
import { minuteEventsFilter } from '../../src/modules/scoring/index.js';
import { useTestEnv } from '../helpers/env.js';

// The embedded default, FerretDB on PostgreSQL: leadflow's read indexes and the changes of
// scripts/ferretdb.patch. Meaningless on a real MongoDB (MONGODB_URI set), so skipped there.
const postgresUrl = inject('embeddedPostgresUrl');
const d = postgresUrl ? describe : describe.skip;

const env = useTestEnv();
let sql: pg.Client;
let mongo: MongoClient;

beforeAll(async () => {
  if (!postgresUrl) return;
  sql = new pg.Client({ connectionString: postgresUrl });
  await sql.connect();
  // a raw client with a pool larger than FerretDB's, to reach it with more concurrent operations
  mongo = await MongoClient.connect(env.config.mongodbUri, { maxPoolSize: 200 });
});
afterAll(async () => {
  await sql?.end();
  await mongo?.close();
});

/** FerretDB's table for a collection of the test database. */
async function tableOf(collection: string): Promise<string> {
  const r = await sql.query<{ table: string }>(
    `SELECT _jsonb->>'table' AS table FROM "${env.dbName}"._ferretdb_database_metadata WHERE _jsonb->>'_id' = $1`,
    [collection],
  );
  return r.rows[0]!.table;
}

d('FerretDB on PostgreSQL', () => {
  it('when the app starts, then every declared index field, _id included, has a GIN index that serves @>', async () => {
    const leads = mongoose.model('Lead').collection.collectionName;
    const table = await tableOf(leads);
    const gin = await sql.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 AND indexdef LIKE '%USING gin%'`,
      [env.dbName, table],
    );
    const names = gin.rows.map((r) => r.indexname);
    expect(names).toContain(indexName(table, '_id'));
    expect(names).toContain(indexName(table, 'emailKey'));
    expect(gin.rows.every((r) => r.indexdef.includes('jsonb_path_ops'))).toBe(true);

    // the filter FerretDB sends for findOne({emailKey}) is answered from the index
    await sql.query('BEGIN');
    await sql.query('SET LOCAL enable_seqscan = off');
    const plan = await sql.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT _jsonb FROM "${env.dbName}"."${table}" WHERE _jsonb->'emailKey' @> '"a@example.com"'`,
    );
    await sql.query('COMMIT');
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain(indexName(table, 'emailKey'));
  });

  it('when the once-a-minute reconcilers read recent events and open handoff requests, then their filter reaches PostgreSQL, where an index serves it', async () => {
    // FerretDB v1 sends equality (and, patched, $in) to PostgreSQL but no range and no null: a
    // reconciler asking for `createdAt >= …` or `processedAt: null` read the whole collection
    const plan = async (model: string, filter: Record<string, unknown>) => {
      const r = (await mongoose.model(model).find(filter).explain('queryPlanner')) as unknown as {
        filterPushdown: boolean;
        queryPlanner: unknown;
      };
      return { pushdown: r.filterPushdown, sql: JSON.stringify(r.queryPlanner) };
    };
    const events = await plan('LeadEvent', minuteEventsFilter(new Date().toISOString().slice(0, 16)));
    expect(events.pushdown).toBe(true);
    expect(events.sql).toContain("'createdMinute'");
    const requests = await plan('HandoffRequest', openRequestsFilter(new Date()));
    expect(requests.pushdown).toBe(true);
    expect(requests.sql).toContain("'open'");
    // what they were: nothing reached PostgreSQL
    expect((await plan('LeadEvent', { createdAt: { $gte: new Date(0) } })).pushdown).toBe(false);
    expect((await plan('HandoffRequest', { processedAt: null })).pushdown).toBe(false);

    for (const [model, field] of [
      ['LeadEvent', 'createdMinute'],
      ['HandoffRequest', 'open'],
    ] as const) {
      const table = await tableOf(mongoose.model(model).collection.collectionName);
      const idx = await sql.query(`SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2`, [
        env.dbName,
        indexName(table, field),
      ]);
      expect(idx.rowCount).toBe(1);
    }
  });

  it('when the indexes are ensured again, then nothing is created and all are found', async () => {
    const again = await ensureFerretdbReadIndexes(postgresUrl, env.dbName, createLogger('silent', 'test'));
    expect(again.created).toBe(0);
    expect(again.existing).toBeGreaterThan(mongoose.modelNames().length);
  });

  it('when a database is not FerretDB’s, then ensuring its indexes does nothing', async () => {
    const r = await ensureFerretdbReadIndexes(postgresUrl, 'no_such_db_here', createLogger('silent', 'test'));
    expect(r).toEqual({ created: 0, existing: 0 });
  });

  it('when $in is pushed down, then it finds exactly what MongoDB would: scalars, ObjectIds, array members', async () => {
    const col = mongo.db(env.dbName).collection<{ _id: string; k?: unknown }>('in_probe');
    const oid = new ObjectId();
    await col.insertMany([
      { _id: 'a', k: 'x' },
      { _id: 'b', k: 'y' },
      { _id: 'c', k: ['z', 'q'] },
      { _id: 'd', k: 1 },
      { _id: 'e', k: 1.5 },
      { _id: 'f', k: oid },
      { _id: 'g', k: { nested: 'x' } },
      { _id: 'h' },
      { _id: 'i', k: 'X' },
    ]);
    const ids = async (filter: object) => (await col.find(filter).toArray()).map((doc) => doc._id).sort();
    expect(await ids({ k: { $in: ['x', 'z', 1, oid] } })).toEqual(['a', 'c', 'd', 'f']);
    expect(await ids({ k: { $in: [1.5, 'nope'] } })).toEqual(['e']);
    expect(await ids({ _id: { $in: ['b', 'h', 'missing'] } })).toEqual(['b', 'h']);
    expect(await ids({ k: { $in: [null] } })).toEqual(['h']); // not pushed down: still right
    expect(await ids({ k: { $in: [] } })).toEqual([]);
    expect(await ids({ k: { $in: ['x'] }, _id: { $in: ['a', 'i'] } })).toEqual(['a']);
    // `_id` with a value that is not a string or ObjectId: the OR form (or none), still right
    expect(await ids({ _id: { $in: ['a', 7] }, k: { $in: ['x', 'y'] } })).toEqual(['a']);
  });

  it('when _id is matched with $in (sent as one IN list), then it finds exactly those ids, with other filters too', async () => {
    const col = mongo.db(env.dbName).collection<{ _id: ObjectId; n: number }>('in_id_probe');
    const docs = Array.from({ length: 3000 }, (_, n) => ({ _id: new ObjectId(), n }));
    await col.insertMany(docs);
    const wanted = docs.filter((d) => d.n % 7 === 0);
    const found = await col.find({ _id: { $in: [...wanted.map((d) => d._id), new ObjectId()] } }).toArray();
    expect(found.map((d) => d.n).sort((a, b) => a - b)).toEqual(wanted.map((d) => d.n));
    // placeholders after the IN list stay in step: the second filter is applied too
    const both = await col.find({ _id: { $in: [docs[1]!._id, docs[2]!._id] }, n: { $in: [2, 5] } }).toArray();
    expect(both.map((d) => d.n)).toEqual([2]);
    const strings = mongo.db(env.dbName).collection<{ _id: string; n: number }>('in_id_strings');
    await strings.insertMany([
      { _id: 'a@x', n: 1 },
      { _id: 'b@x', n: 2 },
      { _id: 'c:1', n: 3 },
    ]);
    const got = await strings.find({ _id: { $in: ['c:1', 'a@x', 'zz'] } }).toArray();
    expect(got.map((d) => d._id).sort()).toEqual(['a@x', 'c:1']);
  });

  it('when more updates run at once than FerretDB has PostgreSQL connections, then all complete', async () => {
    const col = mongo.db(env.dbName).collection<{ _id: string; k: string; v: number }>('update_probe');
    const n = 150; // FerretDB's pool here is 100 (services.sh); unpatched, 100 concurrent updates hang it
    await col.insertMany(Array.from({ length: n }, (_, i) => ({ _id: `u${i}`, k: `k${i}`, v: 0 })));
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        i % 2
          ? col.updateOne({ k: `k${i}` }, { $set: { v: 1 } })
          : col.findOneAndUpdate({ k: `k${i}` }, { $set: { v: 1 } }, { returnDocument: 'after' }),
      ),
    );
    expect(results).toHaveLength(n);
    expect(await col.countDocuments({ v: 1 })).toBe(n);
  }, 90_000);

  it('when one document is updated by many writers at once, then no update is lost and a conditional update has one winner', async () => {
    // the patch's compare-and-swap: unpatched, 50 racing $inc left 36 and 30 racing $set kept ~10
    type Probe = { _id: string; n: number; status: string; by?: number };
    const col = mongo.db(env.dbName).collection<Probe>('cas_probe');
    await col.insertOne({ _id: 'x', n: 0, status: 'pending' });
    await Promise.all(Array.from({ length: 50 }, () => col.updateOne({ _id: 'x' }, { $inc: { n: 1 } })));
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        col.updateOne({ _id: 'x' }, { $set: { [`f${i}`]: i } as Partial<Probe> }),
      ),
    );
    const winners = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        col.findOneAndUpdate({ _id: 'x', status: 'pending' }, { $set: { status: 'taken', by: i } }),
      ),
    );
    const modified = await Promise.all(
      Array.from({ length: 20 }, () =>
        col.updateOne({ _id: 'x', status: 'taken' }, { $set: { status: 'done' } }),
      ),
    );
    const doc = (await col.findOne({ _id: 'x' }))!;
    expect(doc.n).toBe(50);
    expect(Object.keys(doc).filter((k) => /^f\d+$/.test(k))).toHaveLength(30);
    expect(winners.filter((w) => w !== null)).toHaveLength(1);
    expect(modified.reduce((s, r) => s + r.modifiedCount, 0)).toBe(1);
    expect(doc.status).toBe('done');
    // the document holds the one winner's write
    expect(doc.by).toBe(winners.findIndex((w) => w !== null));
  }, 90_000);
});
