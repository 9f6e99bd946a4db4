import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { errorHandler, jsonBody, notFoundHandler, requireJson } from '../../src/lib/http.js';
import { createLogger } from '../../src/lib/logger.js';
import { pino } from 'pino';
import { ApiKey } from '../../src/modules/admin/api-key.model.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';

const env = useTestEnv({ BODY_LIMIT_BYTES: '2048' });
const admin = { Authorization: `Bearer ${ADMIN_KEY}` };

function expectErrorShape(body: unknown, code: string) {
  expect(body).toMatchObject({ error: { code, message: expect.any(String) } });
}

describe('error shape and status codes', () => {
  it('when no key is given, then 401 unauthorized', async () => {
    const res = await env.http().get('/api/keys');
    expect(res.status).toBe(401);
    expectErrorShape(res.body, 'unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('when a wrong key is given, then 401 unauthorized', async () => {
    const res = await env
      .http()
      .get('/api/keys')
      .set('Authorization', 'Bearer lf_not-a-real-key-at-all-xxxxxxxx');
    expect(res.status).toBe(401);
    expectErrorShape(res.body, 'unauthorized');
  });

  it('when a body fails validation, then 400 validation_failed names each field', async () => {
    const res = await env.http().post('/api/keys').set(admin).send({ name: '', role: 'wizard' });
    expect(res.status).toBe(400);
    expectErrorShape(res.body, 'validation_failed');
    const paths = (res.body.error.details as { path: string }[]).map((d) => d.path).sort();
    expect(paths).toEqual(['name', 'role']);
  });

  it('when an operator object is sent where a string belongs, then 400 and nothing is written', async () => {
    const before = await ApiKey.countDocuments();
    const res = await env
      .http()
      .post('/api/keys')
      .set(admin)
      .send({ name: { $gt: '' }, role: 'admin' });
    expect(res.status).toBe(400);
    expect(await ApiKey.countDocuments()).toBe(before);
  });

  it('when the JSON is malformed, then 400 bad_request', async () => {
    const res = await env
      .http()
      .post('/api/keys')
      .set(admin)
      .set('Content-Type', 'application/json')
      .send('{"name": ');
    expect(res.status).toBe(400);
    expectErrorShape(res.body, 'bad_request');
  });

  it('when the body is larger than the limit, then 413 payload_too_large', async () => {
    const res = await env
      .http()
      .post('/api/keys')
      .set(admin)
      .send({ name: 'x'.repeat(5000), role: 'admin' });
    expect(res.status).toBe(413);
    expectErrorShape(res.body, 'payload_too_large');
  });

  it('when the body is not JSON, then 415 unsupported_media_type', async () => {
    const res = await env
      .http()
      .post('/api/keys')
      .set(admin)
      .set('Content-Type', 'text/plain')
      .send('name=x');
    expect(res.status).toBe(415);
    expectErrorShape(res.body, 'unsupported_media_type');
  });

  it('when the route does not exist, then 404 not_found', async () => {
    const res = await env.http().get('/api/nothing-here').set(admin);
    expect(res.status).toBe(404);
    expectErrorShape(res.body, 'not_found');
  });

  it('when a key id does not exist, then DELETE is 404', async () => {
    const res = await env.http().delete('/api/keys/0123456789abcdef01234567').set(admin);
    expect(res.status).toBe(404);
    expectErrorShape(res.body, 'not_found');
  });

  it('when a handler fails unexpectedly, then 500 internal carries an errorId that is in the log', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const app = express();
    app.use(requireJson, jsonBody(1024));
    app.get('/boom', () => {
      throw new Error('disk on fire');
    });
    app.use(notFoundHandler, errorHandler(logger));
    const res = await request(app).get('/boom');
    expect(res.status).toBe(500);
    expectErrorShape(res.body, 'internal');
    const errorId = res.body.error.errorId as string;
    expect(errorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.error.message).not.toContain('disk on fire');
    const logged = lines.map((l) => JSON.parse(l) as { errorId?: string; err?: { message: string } });
    expect(logged.find((l) => l.errorId === errorId)?.err?.message).toBe('disk on fire');
  });

  it('when the logger meets credentials and personal data, then they are redacted', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger('info', 'test', sink);
    logger.info(
      {
        req: { headers: { authorization: 'Bearer secret-key' } },
        lead: { email: 'a@b.c', firstName: 'Ann' },
        leadId: 'L1',
      },
      'x',
    );
    expect(lines[0]).not.toContain('secret-key');
    expect(lines[0]).not.toContain('a@b.c');
    expect(lines[0]).not.toContain('Ann');
    expect(lines[0]).toContain('L1');
  });
});

describe('roles', () => {
  it('when an admin creates a key, then it is shown once and stored only hashed', async () => {
    const res = await env.http().post('/api/keys').set(admin).send({ name: 'web team', role: 'marketing' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: expect.any(String),
      key: expect.stringMatching(/^lf_/),
      role: 'marketing',
    });
    const stored = await ApiKey.findById(res.body.id).lean();
    expect(JSON.stringify(stored)).not.toContain(res.body.key);
    const list = await env.http().get('/api/keys').set(admin);
    expect(JSON.stringify(list.body)).not.toContain(res.body.key);
  });

  it.each([
    ['marketing', 403],
    ['sales', 403],
    ['admin', 201],
  ] as const)('when a %s key creates a key, then %i', async (role, status) => {
    const key = await env.keyFor(role);
    const res = await env
      .http()
      .post('/api/keys')
      .set('Authorization', `Bearer ${key}`)
      .send({ name: 'x', role: 'sales' });
    expect(res.status).toBe(status);
    if (status === 403) expectErrorShape(res.body, 'forbidden');
  });

  it.each([
    ['marketing', 403],
    ['sales', 403],
    ['admin', 200],
  ] as const)('when a %s key reads /metrics, then %i', async (role, status) => {
    const key = await env.keyFor(role);
    const res = await env.http().get('/metrics').set('Authorization', `Bearer ${key}`);
    expect(res.status).toBe(status);
    if (status === 200) {
      expect(res.text).toContain('leadflow_queue_jobs{queue="nurture",state="waiting"}');
      expect(res.text).toContain('process_cpu_user_seconds_total');
    }
  });

  it('when /metrics is read without a key, then 401', async () => {
    expect((await env.http().get('/metrics')).status).toBe(401);
  });

  it('when a key is revoked, then it no longer authenticates', async () => {
    const created = await env.http().post('/api/keys').set(admin).send({ name: 'temp', role: 'admin' });
    const auth = { Authorization: `Bearer ${created.body.key}` };
    expect((await env.http().get('/api/keys').set(auth)).status).toBe(200);
    expect((await env.http().delete(`/api/keys/${created.body.id}`).set(admin)).status).toBe(204);
    expect((await env.http().get('/api/keys').set(auth)).status).toBe(401);
  });

  it('when /healthz is called, then 200 without a key', async () => {
    expect((await env.http().get('/healthz')).status).toBe(200);
  });
});

describe('queue dashboard', () => {
  const basic = (key: string) => `Basic ${Buffer.from(`operator:${key}`).toString('base64')}`;

  it('when a browser opens /admin/queues without a key, then 401 asks for Basic credentials', async () => {
    const res = await env.http().get('/admin/queues');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm="leadflow"/);
  });

  it('when an admin key is the Basic password, then Bull Board lists the queues', async () => {
    const page = await env.http().get('/admin/queues').set('Authorization', basic(ADMIN_KEY));
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const api = await env.http().get('/admin/queues/api/queues').set('Authorization', basic(ADMIN_KEY));
    expect(api.status).toBe(200);
    const names = (api.body.queues as { name: string }[]).map((q) => q.name).sort();
    expect(names).toContain('nurture');
    expect(names).toContain('email');
  });

  it('when a sales key is the Basic password, then 403', async () => {
    const key = await env.keyFor('sales');
    expect((await env.http().get('/admin/queues').set('Authorization', basic(key))).status).toBe(403);
  });
});
