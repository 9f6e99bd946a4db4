import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createLogger } from '../../src/lib/logger.js';
import {
  addressRefusal,
  deliverWebhook,
  emitWebhookEvent,
  Webhook,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEvent,
} from '../../src/modules/webhooks/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';

// private targets refused: the product's default
const env = useTestEnv({ WEBHOOK_ALLOW_PRIVATE: 'false' });
const log = createLogger('silent');
const admin = `Bearer ${ADMIN_KEY}`;
const put = (id: string, body: unknown, auth = admin) =>
  env
    .http()
    .put(`/api/webhooks/${id}`)
    .set('Authorization', auth)
    .send(body as object);
const events: ['handoff.created'] = ['handoff.created'];

/** The machine's own name, when DNS (here /etc/hosts) resolves it to a non-public address. */
let privateName: { name: string; address: string } | undefined;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  const name = hostname();
  const found = await lookup(name, { all: true }).catch(() => []);
  const refused = found.find((a) => addressRefusal(a.address));
  if (refused && !name.endsWith('localhost')) privateName = { name, address: refused.address };
});
afterAll(() => receiver?.close());

describe('webhook targets (WEBHOOK_ALLOW_PRIVATE off)', () => {
  it.each([
    ['loopback', 'http://127.0.0.1:8080/hook'],
    ['loopback, short form', 'http://127.1/hook'],
    ['loopback, hexadecimal', 'http://0x7f000001/hook'],
    ['loopback, decimal', 'http://2130706433/hook'],
    ['loopback, octal', 'http://0177.0.0.1/hook'],
    ['"this network"', 'http://0/hook'],
    ['localhost', 'http://localhost:3000/hook'],
    ['a .localhost name', 'https://api.localhost/hook'],
    ['private 10/8', 'http://10.1.2.3/hook'],
    ['private 172.16/12', 'https://172.20.0.1/hook'],
    ['private 192.168/16', 'http://192.168.1.10/hook'],
    ['carrier-grade NAT', 'http://100.64.0.1/hook'],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['IPv6 loopback', 'http://[::1]:8080/hook'],
    ['IPv6 unspecified', 'http://[::]/hook'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/hook'],
    ['IPv4-mapped IPv6, hex', 'http://[::ffff:7f00:1]/hook'],
    ['IPv6 unique local (AWS metadata)', 'http://[fd00:ec2::254]/hook'],
    ['IPv6 link-local', 'http://[fe80::1]/hook'],
    ['6to4 carrying loopback', 'http://[2002:7f00:1::1]/hook'],
    ['NAT64 carrying private', 'http://[64:ff9b::a00:1]/hook'],
  ])('when the URL is %s (%s), then it is refused and nothing is saved', async (_what, url) => {
    const res = await put('refused', { url, events });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('bad_request');
    expect(res.body.error.message).toContain('WEBHOOK_ALLOW_PRIVATE');
    expect(res.body.error.details).toEqual([{ path: 'url', message: expect.any(String) }]);
    expect(await Webhook.exists({ _id: 'refused' })).toBeNull();
  });

  it('when a host name resolves to a loopback or private address, then it is refused', async (ctx) => {
    if (!privateName) ctx.skip(`${hostname()} does not resolve to a private address on this machine`);
    const res = await put('by-name', { url: `http://${privateName!.name}:8080/hook`, events });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].message).toContain(`resolves to ${privateName!.address}`);
  });

  it('when the URL is a public address, or a name that does not resolve now, then it is saved', async () => {
    expect((await put('public-ip', { url: 'https://93.184.215.14/hook', events })).status).toBe(200);
    expect((await put('public-v6', { url: 'https://[2606:4700:4700::1111]/hook', events })).status).toBe(200);
    // checked again, on the addresses it then has, at every delivery
    expect((await put('public-name', { url: 'https://hooks.example.invalid/in', events })).status).toBe(200);
  });

  it('when a saved name later resolves to a private address (DNS rebinding), then the delivery refuses to connect', async (ctx) => {
    if (!privateName) ctx.skip(`${hostname()} does not resolve to a private address on this machine`);
    // saved while the name was public: written directly, as the PUT check would have passed then
    await Webhook.create({
      _id: 'rebound',
      url: `http://${privateName!.name}:${receiver.port}/hooks`,
      events,
      secret: `whsec_${Buffer.alloc(24, 3).toString('base64')}`,
    });
    await WebhookEvent.create({
      _id: 'ev-rebind',
      type: 'handoff.created',
      data: {},
      occurredAt: new Date(),
      webhookIds: ['rebound'],
    });
    await WebhookDelivery.create({
      _id: 'ev-rebind:rebound',
      eventId: 'ev-rebind',
      webhookId: 'rebound',
      type: 'handoff.created',
      nextAttemptAt: new Date(),
    });
    expect(await deliverWebhook(env.rt, 'ev-rebind:rebound', log)).toEqual({ result: 'retrying' });
    const attempt = await WebhookAttempt.findById('ev-rebind:rebound:1').lean();
    expect(attempt).toMatchObject({ status: 'failed', responseCode: null });
    expect(attempt!.error).toContain(`refused: ${privateName!.name} resolves to ${privateName!.address}`);
    expect(receiver.received).toHaveLength(0);
  });

  it('when a stored URL is a literal private address, then the delivery refuses it too', async () => {
    await Webhook.create({
      _id: 'literal',
      url: receiver.url,
      events,
      secret: `whsec_${Buffer.alloc(24, 4).toString('base64')}`,
    });
    await WebhookEvent.create({
      _id: 'ev-literal',
      type: 'handoff.created',
      data: {},
      occurredAt: new Date(),
      webhookIds: ['literal'],
    });
    await WebhookDelivery.create({
      _id: 'ev-literal:literal',
      eventId: 'ev-literal',
      webhookId: 'literal',
      type: 'handoff.created',
      nextAttemptAt: new Date(),
    });
    await deliverWebhook(env.rt, 'ev-literal:literal', log);
    const attempt = await WebhookAttempt.findById('ev-literal:literal:1').lean();
    expect(attempt!.error).toBe('refused: 127.0.0.1 is a loopback address');
    expect(receiver.received).toHaveLength(0);
  });

  it('when private targets are allowed, then a loopback URL is saved', async () => {
    const allowing = buildApp({
      ...env.rt,
      config: { ...env.config, webhooks: { ...env.config.webhooks, allowPrivate: true } },
    });
    const res = await request(allowing)
      .put('/api/webhooks/on-prem')
      .set('Authorization', admin)
      .send({ url: 'http://127.0.0.1:9/x', events });
    expect(res.status).toBe(200);
  });
});

describe('webhook management', () => {
  it('when a webhook is created, replaced, listed and deleted, then the secret is shown once and kept', async () => {
    const created = await put('crud', { url: 'https://93.184.215.14/a', events: ['lead.qualified'] });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      id: 'crud',
      url: 'https://93.184.215.14/a',
      events: ['lead.qualified'],
      active: true,
    });
    const secret = created.body.secret as string;
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(24);

    const replaced = await put('crud', {
      url: 'https://93.184.215.14/b',
      events: ['handoff.accepted', 'handoff.rejected'],
      active: false,
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({
      url: 'https://93.184.215.14/b',
      events: ['handoff.accepted', 'handoff.rejected'],
      active: false,
    });
    expect(replaced.body.secret).toBeUndefined();
    expect((await Webhook.findById('crud').lean())!.secret).toBe(secret);

    const got = await env.http().get('/api/webhooks/crud').set('Authorization', admin);
    expect(got.status).toBe(200);
    expect(got.body.secret).toBeUndefined();
    expect(JSON.stringify(got.body)).not.toContain(secret.slice(6));

    for (const id of ['list-1', 'list-2', 'list-3'])
      await put(id, { url: 'https://93.184.215.14/l', events });
    const page1 = await env.http().get('/api/webhooks?limit=2').set('Authorization', admin);
    expect(page1.status).toBe(200);
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.items.every((w: Record<string, unknown>) => !('secret' in w))).toBe(true);
    const all = [...page1.body.items];
    let cursor = page1.body.nextCursor as string | null;
    while (cursor) {
      const next = await env.http().get(`/api/webhooks?limit=2&cursor=${cursor}`).set('Authorization', admin);
      all.push(...next.body.items);
      cursor = next.body.nextCursor;
    }
    const ids = all.map((w) => w.id);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(expect.arrayContaining(['crud', 'list-1', 'list-2', 'list-3']));

    expect((await env.http().delete('/api/webhooks/crud').set('Authorization', admin)).status).toBe(204);
    expect((await env.http().get('/api/webhooks/crud').set('Authorization', admin)).status).toBe(404);
    expect((await env.http().delete('/api/webhooks/crud').set('Authorization', admin)).status).toBe(404);
    expect((await env.http().get('/api/webhooks/crud/deliveries').set('Authorization', admin)).status).toBe(
      404,
    );
  });

  it('when the same new webhook is PUT concurrently, then exactly one answer shows the secret, the one kept', async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => put('racing', { url: 'https://93.184.215.14/r', events })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    const shown = answers.map((a) => a.body.secret).filter(Boolean);
    expect(shown).toHaveLength(1);
    expect((await Webhook.findById('racing').lean())!.secret).toBe(shown[0]);
  });

  it('when an event has no subscriber, then nothing is recorded', async () => {
    const out = await emitWebhookEvent({ type: 'opportunity.stage_changed', eventId: 'opp:none', data: {} });
    expect(out).toEqual({ eventId: 'opp:none', created: false, deliveries: 0 });
    expect(await WebhookEvent.exists({ _id: 'opp:none' })).toBeNull();
  });

  it('when input is hostile or malformed, then the answer is a 4xx naming the problem and nothing is written', async () => {
    const before = await Webhook.countDocuments();
    const bad: [unknown, string][] = [
      [{ url: 'http://93.184.215.14/a\r\nX-Injected: 1', events }, 'url'],
      [{ url: 'http://93.184.215.14/a\nb', events }, 'url'],
      [{ url: 'http://exa\tmple.com/', events }, 'url'],
      [{ url: { $gt: '' }, events }, 'url'],
      [{ url: 'ftp://93.184.215.14/a', events }, 'url'],
      [{ url: 'javascript:alert(1)', events }, 'url'],
      [{ url: 'file:///etc/passwd', events }, 'url'],
      [{ url: '/relative', events }, 'url'],
      [{ url: 'https://user:pass@93.184.215.14/a', events }, 'url'],
      [{ url: `https://93.184.215.14/${'a'.repeat(3000)}`, events }, 'url'],
      [{ url: 'https://93.184.215.14/a', events: [{ $ne: null }] }, 'events.0'],
      [{ url: 'https://93.184.215.14/a', events: ['lead.deleted'] }, 'events.0'],
      [{ url: 'https://93.184.215.14/a', events: [] }, 'events'],
      [{ url: 'https://93.184.215.14/a', events: ['lead.qualified', 'lead.qualified'] }, 'events'],
      [{ url: 'https://93.184.215.14/a', events: 'lead.qualified' }, 'events'],
      [{ url: 'https://93.184.215.14/a', events, secret: 'whsec_short' }, 'secret'],
      [{ url: 'https://93.184.215.14/a', events, secret: 'not-a-secret-at-all-0123456789abcdef' }, 'secret'],
      [{ url: 'https://93.184.215.14/a', events, secret: { $gt: '' } }, 'secret'],
      [{ url: 'https://93.184.215.14/a', events, active: 'yes' }, 'active'],
      [{ url: 'https://93.184.215.14/a', events, $where: '1' }, '$where'],
    ];
    for (const [body, path] of bad) {
      const res = await put('hostile', body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
    const badId = await put('bad$id', { url: 'https://93.184.215.14/a', events });
    expect(badId.status).toBe(400);
    expect((await put('x'.repeat(101), { url: 'https://93.184.215.14/a', events })).status).toBe(400);

    const huge = await env
      .http()
      .put('/api/webhooks/huge')
      .set('Authorization', admin)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ url: 'https://93.184.215.14/a', events, pad: 'x'.repeat(2_000_000) }));
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('payload_too_large');
    const text = await env
      .http()
      .put('/api/webhooks/t')
      .set('Authorization', admin)
      .set('Content-Type', 'text/plain')
      .send('url=x');
    expect(text.status).toBe(415);
    expect(await Webhook.countDocuments()).toBe(before);

    for (const q of ['?foo=1', '?limit=abc', '?limit=0', '?limit=501', '?cursor=%24gt', '?limit[$gt]=1']) {
      const res = await env.http().get(`/api/webhooks${q}`).set('Authorization', admin);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    expect(
      (await env.http().get('/api/webhooks?foo=1').set('Authorization', admin)).body.error.details[0].path,
    ).toBe('foo');
    await put('q', { url: 'https://93.184.215.14/q', events });
    for (const q of ['?status=weird', '?bogus=1', '?cursor=!!']) {
      const res = await env.http().get(`/api/webhooks/q/deliveries${q}`).set('Authorization', admin);
      expect(res.status, q).toBe(400);
    }
    const forged = await env
      .http()
      .get('/api/webhooks/q/deliveries?cursor=Zm9yZ2Vk')
      .set('Authorization', admin);
    expect(forged.status).toBe(400);
    expect(forged.body.error.details).toEqual([
      { path: 'cursor', message: 'must be a cursor from nextCursor' },
    ]);
  });
});

describe('webhook roles', () => {
  const calls: [string, string, unknown?][] = [
    ['get', '/api/webhooks'],
    ['put', '/api/webhooks/roles', { url: 'https://93.184.215.14/r', events }],
    ['get', '/api/webhooks/roles'],
    ['get', '/api/webhooks/roles/deliveries'],
    ['post', '/api/webhooks/roles/deliveries/ev:roles/redeliver'],
    ['delete', '/api/webhooks/roles'],
  ];
  const call = (method: string, path: string, body: unknown, auth?: string) => {
    const req = env.http()[method as 'get'](path);
    return (auth ? req.set('Authorization', auth) : req).send(body as object);
  };
  it('when marketing, sales or no key call the webhook endpoints, then only admin gets through', async () => {
    const keys = { marketing: await env.keyFor('marketing'), sales: await env.keyFor('sales') };
    for (const [method, path, body] of calls) {
      const noKey = await call(method, path, body);
      expect(noKey.status, `${method} ${path}`).toBe(401);
      for (const [role, key] of Object.entries(keys)) {
        const res = await call(method, path, body, `Bearer ${key}`);
        expect(res.status, `${role} ${method} ${path}`).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
      }
    }
    expect(await Webhook.exists({ _id: 'roles' })).toBeNull();
    const statuses = [];
    for (const [method, path, body] of calls) {
      statuses.push((await call(method, path, body, admin)).status);
    }
    // list, create, read, deliveries, redeliver (no such delivery), delete
    expect(statuses).toEqual([200, 200, 200, 200, 404, 204]);
  });
});
