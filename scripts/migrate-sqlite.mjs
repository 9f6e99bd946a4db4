/* global process, console */
// Copies every database and collection (documents and indexes) from one MongoDB-compatible server
// to another: used by `scripts/services.sh migrate` to move an older SQLite-backed FerretDB's data
// into the PostgreSQL-backed one. Safe to run again: documents already copied (same _id) are kept.
//
//   node scripts/migrate-sqlite.mjs <source-uri> <target-uri>
import { MongoClient } from 'mongodb';

const [from, to] = process.argv.slice(2);
if (!from || !to) {
  console.error('usage: node scripts/migrate-sqlite.mjs <source-uri> <target-uri>');
  process.exit(2);
}
const say = (msg) => process.stderr.write(`[migrate] ${msg}\n`);
const source = await MongoClient.connect(from, { serverSelectionTimeoutMS: 10_000 });
const target = await MongoClient.connect(to, { serverSelectionTimeoutMS: 10_000 });
const BATCH = 1000;

async function copyCollection(db, name) {
  const src = source.db(db).collection(name);
  const dst = target.db(db).collection(name);
  const indexes = (await src.indexes()).filter((i) => i.name !== '_id_');
  for (const { key, v: _v, ns: _ns, ...options } of indexes) await dst.createIndex(key, options);
  let copied = 0;
  let batch = [];
  const flush = async () => {
    if (!batch.length) return;
    try {
      await dst.insertMany(batch, { ordered: false });
    } catch (err) {
      // already copied by an earlier run: keep what is there
      const errors = err.writeErrors ?? (err.code === 11000 ? [err] : null);
      if (!errors || errors.some((e) => (e.code ?? e.err?.code) !== 11000)) throw err;
    }
    copied += batch.length;
    batch = [];
    if (copied % 10_000 === 0) say(`${db}.${name}: ${copied} documents`);
  };
  for await (const doc of src.find({}, { batchSize: BATCH })) {
    batch.push(doc);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  return copied;
}

try {
  const { databases } = await source.db('admin').admin().listDatabases();
  let total = 0;
  for (const { name: db } of databases) {
    if (['admin', 'local', 'config'].includes(db)) continue;
    const collections = await source.db(db).listCollections({}, { nameOnly: true }).toArray();
    for (const { name } of collections) {
      const n = await copyCollection(db, name);
      total += n;
      say(`${db}.${name}: ${n} documents copied`);
    }
  }
  say(`done: ${total} documents in ${databases.length} database(s)`);
} finally {
  await source.close();
  await target.close();
}
