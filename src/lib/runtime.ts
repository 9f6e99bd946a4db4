import type { Redis } from 'ioredis';
import { loadConfig, ConfigError, type ReadyConfig } from '../config.js';
import { closeQueues, initQueues } from '../queues/index.js';
import { ensureLocalServices } from './local-services.js';
import { createLogger, type Logger } from './logger.js';
import { createMailer, type Mailer } from './mailer.js';
import { ensureFerretdbReadIndexes } from './ferretdb-indexes.js';
import { connectMongo, createCollections, disconnectMongo } from './mongo.js';
import { waitForRedisReady } from './redis.js';
import { resolveTrackingSecret } from './settings.js';
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
  const conn = await connectMongo(config.mongodbUri, logger, opts.dbName, config.mongo);
  onShutdown('mongodb', () => disconnectMongo());
  // the embedded default (FerretDB on PostgreSQL): indexes that serve its reads, after mongoose's
  if (config.embeddedPostgresUrl) {
    await createCollections();
    await ensureFerretdbReadIndexes(config.embeddedPostgresUrl, conn.connection.name, logger);
  }
  const redis = initQueues(config.redisUrl, config.queuePrefix);
  onShutdown('queues', () => closeQueues());
  if (!(await waitForRedisReady(redis)))
    logger.warn('redis is not ready yet; requests that enqueue answer 503 until it is');
  const mailer = createMailer(config);
  onShutdown('mailer', () => mailer.close());
  const trackingSecret = await resolveTrackingSecret(config.trackingSecret);
  return { config, logger, redis, mailer, trackingSecret };
}
