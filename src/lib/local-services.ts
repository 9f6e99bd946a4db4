import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config, ReadyConfig } from '../config.js';
import type { Logger } from './logger.js';

const run = promisify(execFile);

/**
 * The embedded default: when MONGODB_URI or REDIS_URL is unset, start the local servers with
 * scripts/services.sh (idempotent) and use what it prints.
 */
export async function ensureLocalServices(config: Config, logger: Logger): Promise<ReadyConfig> {
  if (config.mongodbUri && config.redisUrl) return config as ReadyConfig;
  logger.info('MONGODB_URI or REDIS_URL unset: starting local servers (scripts/services.sh up)');
  const { stdout } = await run(
    'bash',
    [path.join(config.rootDir, 'scripts/services.sh'), 'up', '--data-dir', config.dataDir],
    {
      // inherited environment: a MONGODB_URI or REDIS_URL set there is used as it is
      timeout: 15 * 60_000,
      maxBuffer: 10 * 1024 * 1024,
    },
  );
  const found = Object.fromEntries(
    stdout
      .split('\n')
      .map((l) => /^(MONGODB_URI|REDIS_URL|EMBEDDED_POSTGRES_URL)=(.+)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  if (!found.MONGODB_URI || !found.REDIS_URL) throw new Error(`services.sh printed no URIs: ${stdout}`);
  return {
    ...config,
    mongodbUri: found.MONGODB_URI,
    redisUrl: found.REDIS_URL,
    embeddedPostgresUrl: config.embeddedPostgresUrl ?? found.EMBEDDED_POSTGRES_URL,
  };
}
