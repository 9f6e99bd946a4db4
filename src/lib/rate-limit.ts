import type { RequestHandler, Request } from 'express';
import type { Redis } from 'ioredis';
import { rateLimited } from './errors.js';
import type { Logger } from './logger.js';

// One round trip: count this hit in the current fixed window and return the count and the
// window's remaining time. Atomic in Redis, so it holds across any number of API processes.
const script = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`;

export type RateLimitOptions = {
  redis: Redis;
  prefix: string;
  limit: number;
  windowSeconds: number;
  logger: Logger;
  /** What is counted together; default the client address. */
  key?: (req: Request) => string;
};

/**
 * Fixed-window rate limiting backed by Redis. While Redis cannot be reached it lets requests
 * through (logged): the endpoint then answers 503 by itself if it needs Redis.
 */
export function rateLimit(opts: RateLimitOptions): RequestHandler {
  const windowMs = opts.windowSeconds * 1000;
  return (req, res, next) => {
    const who = opts.key ? opts.key(req) : (req.ip ?? 'unknown');
    const key = `${opts.prefix}:rl:${who}:${Math.floor(Date.now() / windowMs)}`;
    (opts.redis.eval(script, 1, key, String(windowMs)) as Promise<[number, number]>).then(
      ([count, ttl]) => {
        res.setHeader('RateLimit-Limit', String(opts.limit));
        res.setHeader('RateLimit-Remaining', String(Math.max(0, opts.limit - count)));
        if (count > opts.limit) next(rateLimited(Math.max(ttl, 1000) / 1000));
        else next();
      },
      (err: unknown) => {
        opts.logger.warn({ err }, 'rate limiter unavailable; request let through');
        next();
      },
    );
  };
}
