import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { Lead } from '../../src/modules/leads/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';

describe('POST /f/:formId rate limiting', () => {
  const env = useTestEnv({ RATE_LIMIT_PUBLIC: '3', RATE_LIMIT_WINDOW_SECONDS: '600' });
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };

  beforeAll(async () => {
    for (const id of ['rl-a', 'rl-b']) {
      await env.http().put(`/api/forms/${id}`).set(auth).send({ name: id }).expect(200);
    }
  });

  it('when one client floods a form through two API instances, then the shared Redis limit answers 429 with Retry-After', async () => {
    // a second app instance stands for a second API process: only Redis is shared
    const other = request(buildApp(env.rt));
    const send = (agent: ReturnType<typeof request>, i: number) =>
      agent.post('/f/rl-a').send({ email: `flood${i}@example.com` });
    const statuses = [];
    statuses.push((await send(request(env.app), 0)).status);
    statuses.push((await send(other, 1)).status);
    statuses.push((await send(request(env.app), 2)).status);
    const limited = await send(other, 3);
    expect(statuses).toEqual([201, 201, 201]);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(await Lead.countDocuments({ emailKey: 'flood3@example.com' })).toBe(0);

    // the limit is per client and form: the same client may still use another form
    const b = await env.http().post('/f/rl-b').send({ email: 'other-form@example.com' });
    expect(b.status).toBe(201);
  });

  it('when a limited browser posts urlencoded, then it gets a 429 HTML page', async () => {
    const res = await env.http().post('/f/rl-a').type('form').send({ email: 'late@example.com' });
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('too many requests');
  });
});
