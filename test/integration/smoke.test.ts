import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';

describe('foundation smoke', () => {
  const env = useTestEnv();
  it('when MongoDB and Redis answer, then /readyz is 200', async () => {
    const res = await env.http().get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', mongodb: true, redis: true });
  });
  it('when an admin creates a key, then it is returned once', async () => {
    const res = await env
      .http()
      .post('/api/keys')
      .set('Authorization', `Bearer ${ADMIN_KEY}`)
      .send({ name: 'm', role: 'marketing' });
    expect(res.status).toBe(201);
    expect(res.body.key).toMatch(/^lf_/);
  });
});
