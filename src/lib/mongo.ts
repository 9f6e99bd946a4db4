import mongoose from 'mongoose';
import type { Logger } from './logger.js';

// Fail at once while disconnected instead of queueing writes in memory: an acknowledged submission
// must be in MongoDB, and a request that cannot reach it must get a 503, not hang.
mongoose.set('bufferCommands', false);
mongoose.set('strictQuery', true);

/**
 * Connects mongoose's default connection (every model lives on it) and builds the indexes that
 * guarantees depend on. `dbName` overrides the URI's database (tests use one per file).
 */
export async function connectMongo(uri: string, logger: Logger, dbName?: string): Promise<typeof mongoose> {
  const conn = await mongoose.connect(uri, {
    dbName,
    serverSelectionTimeoutMS: 3000,
    connectTimeoutMS: 3000,
    heartbeatFrequencyMS: 2000,
    maxPoolSize: 50,
    autoIndex: false,
  });
  await Promise.all(Object.values(mongoose.models).map((m) => m.createIndexes()));
  mongoose.connection.on('disconnected', () => logger.warn('mongodb disconnected'));
  mongoose.connection.on('reconnected', () => logger.info('mongodb reconnected'));
  logger.debug({ db: mongoose.connection.name }, 'mongodb connected');
  return conn;
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

/** Answers within `timeoutMs` whether MongoDB responds to a ping. */
export async function pingMongo(timeoutMs = 1500): Promise<boolean> {
  const db = mongoose.connection.db;
  if (!db) return false;
  return withTimeout(
    db
      .admin()
      .command({ ping: 1 })
      .then(() => true),
    timeoutMs,
  ).catch(() => false);
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
