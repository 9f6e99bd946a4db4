import { Redis } from 'ioredis';
import { withTimeout } from './mongo.js';

/**
 * Connection for BullMQ workers and blocking commands: retries forever (BullMQ requires
 * `maxRetriesPerRequest: null`), so a worker rides out a Redis restart.
 */
export function createWorkerRedis(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
}

/**
 * Connection for producers (HTTP requests enqueueing, rate limiting, health): fails fast while
 * Redis is away, so the API answers 503 instead of holding the request open.
 */
export function createClientRedis(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
}

/**
 * Resolves once `redis` is connected and ready, or after `timeoutMs` (false) so a process started
 * while Redis is away still comes up and reports itself not ready. Without this wait the first
 * requests after start raced the connection and were answered 503.
 */
export function waitForRedisReady(redis: Redis, timeoutMs = 5000): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref();
    redis.on('ready', onReady);
  });
}

export async function pingRedis(redis: Redis, timeoutMs = 1500): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  return withTimeout(redis.ping(), timeoutMs)
    .then((r) => r === 'PONG')
    .catch(() => false);
}
