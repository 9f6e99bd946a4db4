/**
 * One target of bench/intake.ts, run as its own process (the API as a real listening server):
 *   echo    bare express + JSON parser, answering the body
 *   insert  bare express + JSON parser + one raw driver insertOne
 *   upsert  bare express + JSON parser + one raw driver upsert on a unique email key
 *   api     leadflow's app: POST /f/:formId with everything (rate limit, form, validation, capture,
 *           event, lead-captured job)
 * Prints `READY <port>` when listening; on SIGTERM drops its database and queue keys and exits.
 * A second argument names a database to use instead (seeded by bench/intake.ts, which drops it).
 * The raw baselines get the same read indexes as leadflow on the embedded default, so they are
 * measured on the same footing.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import mongoose from 'mongoose';
import { buildApp } from '../src/app.js';
import type { ReadyConfig } from '../src/config.js';
import { ensureFerretdbReadIndexes } from '../src/lib/ferretdb-indexes.js';
import { createLogger } from '../src/lib/logger.js';
import { connectRuntime } from '../src/lib/runtime.js';
import { putForm } from '../src/modules/forms/index.js';
import { benchArgs, benchConfig, deleteQueueKeys } from './helpers.js';

const { positionals } = benchArgs(
  `One target of bench/intake.ts (started by it): echo | insert | upsert | api. Prints READY <port>.

usage: npx tsx bench/intake-server.ts echo|insert|upsert|api [database]`,
  {},
);
const mode = positionals[0];
const shared = benchConfig() as ReadyConfig;
const mongodbUri = shared.mongodbUri;
const id = randomBytes(4).toString('hex');
const keepDb = positionals[1] !== undefined;
const dbName = positionals[1] ?? `bench_intake_${id}`;
const dropDb = async () => {
  if (!keepDb) await mongoose.connection.db!.dropDatabase();
};
const queuePrefix = `bench-${id}`;

const app = express();
let cleanup = async () => {};

if (mode === 'echo') {
  app.use(express.json());
  app.post('/f/:formId', (req, res) => {
    res.status(201).json(req.body);
  });
} else if (mode === 'insert' || mode === 'upsert') {
  await mongoose.connect(mongodbUri, { dbName, maxPoolSize: 50 });
  const coll = mongoose.connection.db!.collection('leads');
  await coll.createIndex({ emailKey: 1 }, { unique: true });
  if (shared.embeddedPostgresUrl)
    await ensureFerretdbReadIndexes(shared.embeddedPostgresUrl, dbName, createLogger('warn', 'bench'));
  app.use(express.json());
  app.post('/f/:formId', async (req, res, next) => {
    if (mode === 'upsert') return next();
    const body = req.body as { email: string };
    const r = await coll.insertOne({ ...body, emailKey: String(body.email).trim().toLowerCase() });
    res.status(201).json({ leadId: String(r.insertedId), created: true });
  });
  app.post('/f/:formId', async (req, res) => {
    const body = req.body as { email: string };
    const emailKey = String(body.email).trim().toLowerCase();
    const r = await coll.updateOne({ emailKey }, { $setOnInsert: { ...body, emailKey } }, { upsert: true });
    res
      .status(r.upsertedCount ? 201 : 200)
      .json({ leadId: String(r.upsertedId ?? ''), created: !!r.upsertedCount });
  });
  cleanup = async () => {
    await dropDb();
    await mongoose.disconnect();
  };
} else if (mode === 'api') {
  const config = benchConfig({
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    QUEUE_PREFIX: queuePrefix,
    RATE_LIMIT_PUBLIC: '100000000',
  }) as ReadyConfig;
  const rt = await connectRuntime(config, createLogger('warn', 'bench'), { dbName });
  await putForm('bench', { name: 'Bench', source: 'Bench' }, config.publicUrl);
  const api = buildApp(rt);
  app.use(api);
  cleanup = async () => {
    await dropDb();
    await deleteQueueKeys(config.redisUrl, queuePrefix);
  };
} else {
  process.stderr.write('usage: intake-server.ts echo|insert|upsert|api [database]\n');
  process.exit(2);
}

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
server.keepAliveTimeout = 30_000;
process.on('SIGTERM', () => {
  server.close();
  cleanup()
    .catch((err: unknown) => process.stderr.write(`cleanup failed: ${String(err)}\n`))
    .finally(() => process.exit(0));
});
