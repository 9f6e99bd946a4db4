import { connect, createServer } from 'node:net';
import mongoose from 'mongoose';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { createClientRedis, waitForRedisReady } from '../../src/lib/redis.js';
import { connectRuntime } from '../../src/lib/runtime.js';
import { shutdown } from '../../src/lib/shutdown.js';
import { deleteQueueKeys, testConfig } from '../helpers/env.js';
import { freePort } from '../helpers/processes.js';

/** A TCP relay to `target` that holds each new connection `delayMs` before passing bytes: a slow Redis. */
async function slowRelay(target: URL, delayMs: number) {
  const server = createServer((client) => {
    client.pause();
    setTimeout(() => {
      const upstream = connect(Number(target.port), target.hostname, () => {
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
    }, delayMs);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `redis://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('a runtime is ready for requests that enqueue as soon as it is connected', () => {
  it('when connectRuntime resolves, then its Redis connection is already ready', async () => {
    // the CI run of 2026-12-02 failed on this race: a test's first PUT /api/scoring came before
    // the connection was ready and was answered 503
    // a Redis slow to answer (as on a loaded machine) makes the race certain rather than rare
    const relay = await slowRelay(new URL(testConfig().redisUrl), 1_000);
    const config = testConfig({ REDIS_URL: relay.url });
    const rt = await connectRuntime(config, createLogger('silent', 'test'), { dbName: config.dbName });
    const status = rt.redis.status;
    try {
      expect(status).toBe('ready');
    } finally {
      await mongoose.connection.db?.dropDatabase().catch(() => undefined);
      await shutdown(rt.logger, 20_000);
      await deleteQueueKeys(config.redisUrl, config.queuePrefix);
      await relay.close();
    }
  });

  it('when Redis is not there, then the wait gives up after its timeout and reports false', async () => {
    const port = await freePort();
    const redis = createClientRedis(`redis://127.0.0.1:${port}`);
    redis.on('error', () => undefined);
    try {
      expect(await waitForRedisReady(redis, 300)).toBe(false);
      expect(redis.status).not.toBe('ready');
    } finally {
      redis.disconnect();
    }
  });
});
