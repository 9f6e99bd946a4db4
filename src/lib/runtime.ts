import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { loadConfig, ConfigError, type ReadyConfig } from '../config.js';
import { createApiKey, isActiveKey, resolveTrackingSecret } from '../modules/admin/index.js';
import { closeQueues, initQueues } from '../queues/index.js';
import { ensureLocalServices } from './local-services.js';
import { createLogger, type Logger } from './logger.js';
import { createMailer, type Mailer } from './mailer.js';
import { ensureFerretdbReadIndexes } from './ferretdb-indexes.js';
import { connectMongo, createCollections, disconnectMongo } from './mongo.js';
import { installSignalHandlers, onShutdown } from './shutdown.js';

/** Everything a process holds once started: settings, logger, connections, mailer. */
export type Runtime = {
  config: ReadyConfig;
  logger: Logger;
  /** producer connection (fail-fast): enqueueing, rate limits, health */
  redis: Redis;
  mailer: Mailer;
  trackingSecret: string;
};

/**
 * Starts what every process kind needs: config (a bad value stops the process naming the key),
 * local servers when MONGODB_URI/REDIS_URL are unset, MongoDB, the queue producer and the mailer.
 * Connections close last on SIGTERM.
 */
export async function startRuntime(name: string, opts: { signals?: boolean } = {}): Promise<Runtime> {
  let base;
  try {
    base = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`leadflow: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(base.logLevel, `leadflow:${name}`);
  if (opts.signals !== false) installSignalHandlers(logger, base.shutdownTimeoutMs);
  const config = await ensureLocalServices(base, logger);
  return connectRuntime(config, logger);
}

/**
 * Connects a runtime for settings already parsed (tests build theirs with a database of their own
 * via `dbName`). Connections are closed by the shutdown hooks registered here, last.
 */
export async function connectRuntime(
  config: ReadyConfig,
  logger: Logger,
  opts: { dbName?: string } = {},
): Promise<Runtime> {
  const conn = await connectMongo(config.mongodbUri, logger, opts.dbName);
  onShutdown('mongodb', () => disconnectMongo());
  // the embedded default (FerretDB on PostgreSQL): indexes that serve its reads, after mongoose's
  if (config.embeddedPostgresUrl) {
    await createCollections();
    await ensureFerretdbReadIndexes(config.embeddedPostgresUrl, conn.connection.name, logger);
  }
  const redis = initQueues(config.redisUrl, config.queuePrefix);
  onShutdown('queues', () => closeQueues());
  const mailer = createMailer(config);
  onShutdown('mailer', () => mailer.close());
  const trackingSecret = await resolveTrackingSecret(config.trackingSecret);
  return { config, logger, redis, mailer, trackingSecret };
}

/**
 * When ADMIN_API_KEY is unset, the first start creates an admin key and keeps it in
 * `<data>/admin-api-key` (mode 0600), so a newcomer can call the API at once; later starts reuse it.
 */
export async function ensureBootstrapKey(rt: Runtime): Promise<string | undefined> {
  if (rt.config.adminApiKey) return undefined;
  const file = path.join(rt.config.dataDir, 'admin-api-key');
  const existing = await readFile(file, 'utf8').then(
    (s) => s.trim(),
    () => undefined,
  );
  if (existing && (await isActiveKey(existing))) return existing;
  const { key } = await createApiKey('bootstrap admin (created on first start)', 'admin');
  await mkdir(rt.config.dataDir, { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return key;
}
