import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';

/** Every list (and read) endpoint refuses a query parameter it does not know, naming it. */
describe('strict list queries', () => {
  const env = useTestEnv();
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
  let leadId: string;
  beforeAll(async () => {
    const lead = await env.http().post('/api/leads').set(auth).send({ email: 'strict@example.com' });
    expect(lead.status).toBe(201);
    leadId = lead.body.id;
    const form = await env.http().put('/api/forms/strict').set(auth).send({ name: 'Strict' });
    expect(form.status).toBe(200);
    const seq = await env
      .http()
      .put('/api/sequences/strict')
      .set(auth)
      .send({ name: 'Strict', steps: [{ id: 'a', wait: '0s', subject: 'Hi', text: 'Hello' }] });
    expect(seq.status).toBe(200);
  });

  const get = (path: string) => env.http().get(path).set(auth);
  const expectNamed = (
    res: { status: number; body: { error: { code: string; details: unknown } } },
    name: string,
  ) => {
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: name })]));
  };

  const lists = () => [
    '/api/leads',
    '/api/forms',
    '/api/sequences',
    '/api/keys',
    `/api/leads/${leadId}/timeline`,
    `/api/leads/${leadId}/duplicates`,
    `/api/leads/${leadId}`,
    '/api/forms/strict',
    '/api/sequences/strict',
    '/api/sequences/strict/stats',
  ];

  it('when a list is asked with its known parameters, then it answers 200', async () => {
    for (const path of ['/api/leads?status=open&limit=5', '/api/forms?limit=5', '/api/sequences?limit=5']) {
      const res = await get(path);
      expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(200);
    }
    const found = await get('/api/leads?email=STRICT@example.com');
    expect(found.body.items.map((l: { id: string }) => l.id)).toEqual([leadId]);
  });

  it('when a parameter is misspelled (?staus=open), then every endpoint answers 400 naming it', async () => {
    for (const path of lists()) {
      const sep = path.includes('?') ? '&' : '?';
      expectNamed(await get(`${path}${sep}staus=open`), 'staus');
    }
  });

  it('when an operator is smuggled into a parameter (?email[$ne]=x), then 400 names it and nothing is listed', async () => {
    const res = await get('/api/leads?email[$ne]=x');
    expectNamed(res, 'email[$ne]');
    expect(res.body.items).toBeUndefined();
    expectNamed(await get('/api/leads?status[$gt]='), 'status[$gt]');
  });

  it('when a value is malformed (?limit=abc, a repeated status, an unknown status), then 400 names the parameter', async () => {
    for (const path of ['/api/leads', '/api/forms', '/api/sequences', `/api/leads/${leadId}/timeline`]) {
      expectNamed(await get(`${path}?limit=abc`), 'limit');
    }
    expectNamed(await get('/api/leads?status=open&status=contacted'), 'status');
    expectNamed(await get('/api/leads?status=nope'), 'status');
    expectNamed(await get('/api/leads?cursor=zzz'), 'cursor');
    expectNamed(await get('/api/sequences/strict?version=x'), 'version');
  });
});
