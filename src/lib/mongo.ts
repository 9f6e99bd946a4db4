import { hostname } from 'node:os';
import mongoose from 'mongoose';
import type { Logger } from './logger.js';
import { forEachLimit } from './concurrency.js';

// Fail at once while disconnected instead of queueing writes in memory: an acknowledged submission
// must be in MongoDB, and a request that cannot reach it must get a 503, not hang.
mongoose.set('bufferCommands', false);
mongoose.set('strictQuery', true);

/** Driver limits that turn overload into a prompt 503 (see errors.ts) rather than a hang or a 500. */
export type MongoLimits = {
  maxPoolSize: number;
  /** longest wait for a pooled connection (an exhausted pool) */
  waitQueueTimeoutMS: number;
  /** longest wait for one reply (a stalled or overloaded server); 0 = none */
  socketTimeoutMS: number;
  serverSelectionTimeoutMS: number;
};

export const defaultMongoLimits: MongoLimits = {
  maxPoolSize: 50,
  waitQueueTimeoutMS: 30_000,
  socketTimeoutMS: 60_000,
  serverSelectionTimeoutMS: 3000,
};

/**
 * Connects mongoose's default connection (every model lives on it) and builds the indexes that
 * guarantees depend on. `dbName` overrides the URI's database (tests use one per file).
 */
export async function connectMongo(
  uri: string,
  logger: Logger,
  dbName?: string,
  limits: MongoLimits = defaultMongoLimits,
): Promise<typeof mongoose> {
  const conn = await mongoose.connect(uri, {
    dbName,
    serverSelectionTimeoutMS: limits.serverSelectionTimeoutMS,
    connectTimeoutMS: 3000,
    heartbeatFrequencyMS: 2000,
    maxPoolSize: limits.maxPoolSize,
    waitQueueTimeoutMS: limits.waitQueueTimeoutMS,
    socketTimeoutMS: limits.socketTimeoutMS,
    autoIndex: false,
  });
  // no more index builds in flight than the pool has connections: none waits for one (and times out)
  await buildIndexes(limits.maxPoolSize);
  mongoose.connection.on('disconnected', () => logger.warn('mongodb disconnected'));
  mongoose.connection.on('reconnected', () => logger.info('mongodb reconnected'));
  logger.debug({ db: mongoose.connection.name }, 'mongodb connected');
  return conn;
}

async function buildIndexes(concurrency: number): Promise<void> {
  await forEachLimit(Object.values(mongoose.models), Math.min(concurrency, 16), async (m) => {
    await m.createIndexes();
  });
}

/** Builds indexes of models registered after connecting (modules imported late). */
export async function ensureIndexes(): Promise<void> {
  await Promise.all(Object.values(mongoose.models).map((m) => m.createIndexes()));
}

/**
 * Creates the collection of every registered model that has none yet (createIndexes does not for a
 * model without secondary indexes), so that indexes added below mongoose, such as the read indexes
 * of FerretDB on PostgreSQL, cover every collection from the start.
 */
export async function createCollections(): Promise<void> {
  const db = mongoose.connection.db;
  if (!db) return;
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  await Promise.all(
    Object.values(mongoose.models)
      .filter((m) => !existing.has(m.collection.collectionName))
      .map((m) => db.createCollection(m.collection.collectionName).catch(() => undefined)),
  );
}

/** Where each process's readiness probe writes (one small document per process). */
export const readinessCollection = 'readiness';
const probeId = `${hostname()}:${process.pid}`;

/**
 * Answers within `timeoutMs` whether MongoDB takes a write: a ping, then an upsert of this
 * process's probe document. A ping alone misses a server that answers but refuses writes: a MongoDB
 * replica set with no primary, or FerretDB v1 whose metadata registry had cached a partial database
 * list (SQLSTATE 42P07 on every write, docs/faults.md; our FerretDB build fixes that bug, the probe
 * still catches its kind). A duplicate key from two probes racing to insert the document still
 * means the write reached the database.
 */
export async function pingMongo(timeoutMs = 1500): Promise<boolean> {
  const db = mongoose.connection.db;
  if (!db) return false;
  const probe = async () => {
    await db.admin().command({ ping: 1 });
    await db
      .collection<{ _id: string; at: Date }>(readinessCollection)
      .updateOne({ _id: probeId }, { $set: { at: new Date() } }, { upsert: true })
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 11000) throw err;
      });
    return true;
  };
  return withTimeout(probe(), timeoutMs).catch(() => false);
}

export async function disconnectMongo(): Promise<void> {
  await mongoose.disconnect();
}

/** True when `err` is MongoDB's duplicate-key error (a unique index refused the write). */
export function isDuplicateKey(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    ((err as { code?: number }).code === 11000 ||
      ((err as { writeErrors?: { code?: number }[] }).writeErrors ?? []).some((w) => w.code === 11000))
  );
}

type WriteError = { index: number; code?: number };

/**
 * One unordered bulk insert in which a duplicate key is an answer, not a failure: returns the
 * indices of the documents a unique index (or `_id`) refused. Any other error is thrown.
 */
export async function insertManyRefusingDuplicates(
  collection: { insertMany: (docs: never[], opts: { ordered: false }) => Promise<unknown> },
  docs: object[],
): Promise<Set<number>> {
  const refused = new Set<number>();
  if (docs.length === 0) return refused;
  try {
    await collection.insertMany(docs as never[], { ordered: false });
  } catch (err) {
    const writeErrors = ([] as WriteError[]).concat(
      (err as { writeErrors?: WriteError | WriteError[] }).writeErrors ?? [],
    );
    if (writeErrors.length === 0 || writeErrors.some((w) => w.code !== 11000)) throw err;
    for (const w of writeErrors) refused.add(w.index);
  }
  return refused;
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms}ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * A bulk write split into chunks written side by side (at most `parallel` at once): one round trip
 * per chunk on MongoDB, and on a server that applies a bulk write's operations one after another
 * (FerretDB v1: each update a read and a rewrite) the chunks use several connections at once.
 * For unordered writes only: every operation must stand alone (e.g. updates by `_id`).
 */
export async function writeInChunks<T>(
  ops: T[],
  write: (chunk: T[]) => Promise<unknown>,
  opts: { chunk?: number; parallel?: number } = {},
): Promise<void> {
  const size = opts.chunk ?? 25;
  const parallel = opts.parallel ?? 8;
  for (let i = 0; i < ops.length; i += size * parallel) {
    const round: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(ops.length, i + size * parallel); j += size)
      round.push(write(ops.slice(j, j + size)));
    await Promise.all(round);
  }
}
