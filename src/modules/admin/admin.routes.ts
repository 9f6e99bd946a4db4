import { Router } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { parseInput, parseQuery } from '../../lib/http.js';
import { pingMongo } from '../../lib/mongo.js';
import { pingRedis } from '../../lib/redis.js';
import { registry, queueDepth } from '../../lib/metrics.js';
import { queueDepths } from '../../queues/index.js';
import { roles } from './api-key.model.js';
import { createApiKey, listApiKeys, revokeApiKey } from './admin.service.js';
import { allow } from './auth.js';

const newKey = z
  .object({
    name: z.string().trim().min(1).max(200),
    role: z.enum(roles),
    /** a sales key may act as a rep (`PUT /api/reps/:id`'s id) */
    repId: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a rep id')
      .optional(),
  })
  .strict()
  .refine((k) => !k.repId || k.role === 'sales', {
    message: 'only a sales key is tied to a rep',
    path: ['repId'],
  });
const keyId = z.object({ id: z.string().regex(/^[a-f0-9]{24}$/, 'must be an id') });

/** `/api/keys` (admin only). */
export function keyRoutes(): Router {
  const r = Router();
  r.use(allow('admin'));
  r.post('/', async (req, res) => {
    const body = parseInput(newKey, req.body);
    res.status(201).json(await createApiKey(body.name, body.role, body.repId));
  });
  r.get('/', async (req, res) => {
    parseQuery({}, req.query);
    res.json({ items: await listApiKeys(), nextCursor: null });
  });
  r.delete('/:id', async (req, res) => {
    const { id } = parseInput(keyId, req.params);
    await revokeApiKey(id);
    res.status(204).end();
  });
  return r;
}

/** `/healthz` (the process runs) and `/readyz` (MongoDB and Redis answer). */
export function healthRoutes(redis: Redis): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    const [mongodb, redisOk] = await Promise.all([pingMongo(), pingRedis(redis)]);
    const ok = mongodb && redisOk;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', mongodb, redis: redisOk });
  });
  return r;
}

/** `/metrics`: Prometheus text, admin key required. Queue depths are read when scraped. */
export function metricsRoutes(): Router {
  const r = Router();
  r.get('/', allow('admin'), async (_req, res) => {
    try {
      const depths = await queueDepths();
      for (const [queue, states] of Object.entries(depths)) {
        for (const [state, n] of Object.entries(states)) queueDepth.set({ queue, state }, n);
      }
    } catch {
      // Redis away: serve the process metrics anyway; the gauges keep their last values.
    }
    res.setHeader('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  });
  return r;
}
