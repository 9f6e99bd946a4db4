import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import request from 'supertest';
import type { Express } from 'express';
import { afterAll, beforeAll, inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig, type ReadyConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { connectRuntime, type Runtime } from '../../src/lib/runtime.js';
import { shutdown } from '../../src/lib/shutdown.js';
import { createApiKey, type Role } from '../../src/modules/admin/index.js';
import { deleteQueueKeys } from '../../src/queues/index.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export type TestEnv = {
  rt: Runtime;
  app: Express;
  config: ReadyConfig;
  dbName: string;
  /** supertest against the in-process app */
  http: () => ReturnType<typeof request>;
  /** a fresh key with this role */
  keyFor: (role: Role) => Promise<string>;
};

/** Settings for a test: the shared servers, and a database, queue prefix and data dir of its own. */
export function testConfig(overrides: Record<string, string> = {}): ReadyConfig & { dbName: string } {
  const id = randomBytes(4).toString('hex');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'leadflow-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    MONGODB_URI: inject('mongodbUri'),
    REDIS_URL: inject('redisUrl'),
    ...(inject('embeddedPostgresUrl') ? { EMBEDDED_POSTGRES_URL: inject('embeddedPostgresUrl') } : {}),
    QUEUE_PREFIX: `t-${id}`,
    ADMIN_API_KEY: ADMIN_KEY,
    DATA_DIR: dataDir,
    PUBLIC_URL: 'http://leadflow.test',
    ...overrides,
  }) as ReadyConfig;
  return { ...config, dbName: `test_${id}` };
}

/**
 * Per test file: connects a runtime to its own database and queue prefix and builds the app.
 * Afterwards runs the real shutdown path, drops the database and deletes the queue keys.
 */
export function useTestEnv(overrides: Record<string, string> = {}): TestEnv {
  const env = {} as TestEnv;
  beforeAll(async () => {
    const config = testConfig(overrides);
    const logger = createLogger(config.logLevel, 'test');
    const rt = await connectRuntime(config, logger, { dbName: config.dbName });
    const app = buildApp(rt);
    Object.assign(env, {
      rt,
      app,
      config,
      dbName: config.dbName,
      http: () => request(app),
      keyFor: async (role: Role) => (await createApiKey(`test ${role}`, role)).key,
    });
  });
  afterAll(async () => {
    if (!env.rt) return;
    await mongoose.connection.db?.dropDatabase().catch(() => undefined);
    await shutdown(env.rt.logger, 20_000);
    await deleteQueueKeys(env.config.redisUrl, env.config.queuePrefix);
  });
  return env;
}

export { deleteQueueKeys };
