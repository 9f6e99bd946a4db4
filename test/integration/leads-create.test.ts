import { Redis } from 'ioredis';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { Contact } from '../../src/modules/crm/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { IdempotencyKey } from '../../src/modules/leads/idempotency.model.js';
import { hashRequest } from '../../src/modules/leads/idempotency.service.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { postLead } from '../helpers/factories.js';

describe('POST /api/leads: capture, repeats, Idempotency-Key, a returning contact, 503 and hostile input', () => {
  const env = useTestEnv();
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
  const post = (body: unknown, headers: Record<string, string> = {}) => postLead(env, body, headers);

  it("when a lead is posted, then 201 answers API.md's Lead shape with normalised fields", async () => {
    const res = await post({
      email: '  Grace@Navy.MIL ',
      firstName: ' Grace ',
      lastName: 'Hopper',
      company: 'US Navy',
      phone: '+1 (202) 555-0143',
      country: 'United States',
      attributes: { rank: 'Rear Admiral' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      email: 'Grace@Navy.MIL',
      firstName: 'Grace',
      country: 'US',
      phone: '+12025550143',
      status: 'open',
      lifecycleStage: 'lead',
      score: 0,
      bant: { budget: null, authority: null, need: null, timeline: null },
      unsubscribed: false,
      attributes: { rank: 'Rear Admiral' },
      conversion: null,
      convertedAt: null,
    });
    expect(res.body.id).toMatch(/^[a-f0-9]{24}$/);
    expect(res.body._id).toBeUndefined();
  });

  it('when the same email is posted again, then 200 answers the same lead with empty fields filled', async () => {
    const first = await post({ email: 'again@example.com', firstName: 'First' });
    const again = await post({ email: 'AGAIN@example.com', firstName: 'Second', title: 'CTO' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, firstName: 'First', title: 'CTO' });
  });

  it('when an Idempotency-Key is repeated, then the first answer is replayed; another body gets 409', async () => {
    const h = { 'Idempotency-Key': 'k-1' };
    const a = await post({ email: 'idem@example.com' }, h);
    const b = await post({ email: 'idem@example.com' }, h);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(b.body).toEqual(a.body);
    const c = await post({ email: 'other@example.com' }, h);
    expect(c.status).toBe(409);
    expect(c.body.error.code).toBe('conflict');
    expect(await Lead.countDocuments({ emailKey: 'other@example.com' })).toBe(0);
  });

  it('when a claim was left pending by a crashed request, then it blocks a retry only for a minute', async () => {
    const body = { email: 'stale@example.com' };
    const claim = { requestHash: hashRequest(body), state: 'pending', status: null, body: null };
    await IdempotencyKey.collection.insertMany([
      { ...claim, key: 'env:POST /api/leads:k-fresh', createdAt: new Date(), updatedAt: new Date() },
      {
        ...claim,
        key: 'env:POST /api/leads:k-stale',
        createdAt: new Date(Date.now() - 120_000),
        updatedAt: new Date(),
      },
    ]);
    const fresh = await post(body, { 'Idempotency-Key': 'k-fresh' });
    expect(fresh.status).toBe(409);
    const stale = await post(body, { 'Idempotency-Key': 'k-stale' });
    expect(stale.status).toBe(201);
    expect(stale.body.email).toBe('stale@example.com');
  });

  it("when a converted lead's contact comes back, then the submission lands on that person, flagged for sales", async () => {
    const { body: lead } = await post({ email: 'returning@example.com', firstName: 'Rita' });
    const contact = await Contact.create({
      email: 'returning@example.com',
      emailKey: 'returning@example.com',
      leadId: lead.id,
    });
    await Lead.updateOne(
      { _id: lead.id },
      { $set: { status: 'converted', conversion: { contactId: String(contact._id) } } },
    );
    const again = await post({ email: 'Returning@Example.com', title: 'VP' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: lead.id, existingContactId: String(contact._id), title: 'VP' });
    expect(await Lead.countDocuments({ emailKey: 'returning@example.com' })).toBe(1);
    const t = await env.http().get(`/api/leads/${lead.id}/timeline`).set(auth);
    expect(t.body.items[0]).toMatchObject({
      kind: 'api_submit',
      properties: { contactId: String(contact._id), contactReturned: true, created: false },
    });
  });

  it('when the queue connection is down, then intake answers 503 and writes nothing', async () => {
    // a real client to a port nothing listens on: the state an API process is in when Redis is away
    const down = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    down.on('error', () => undefined);
    await env.http().put('/api/forms/avail').set(auth).send({ name: 'Avail' }).expect(200);
    const app = request(buildApp({ ...env.rt, redis: down }));
    const api = await app.post('/api/leads').set(auth).send({ email: 'down1@example.com' });
    const form = await app.post('/f/avail').send({ email: 'down2@example.com' });
    expect([api.status, form.status]).toEqual([503, 503]);
    expect(api.body.error.code).toBe('unavailable');
    expect(api.headers['retry-after']).toBeDefined();
    expect(await Lead.countDocuments({ emailKey: { $in: ['down1@example.com', 'down2@example.com'] } })).toBe(
      0,
    );
    down.disconnect();
  });

  it('when the input is hostile, then the answer is a 4xx and nothing is written', async () => {
    const before = await Lead.countDocuments();
    const cases: [string, () => Promise<{ status: number }>][] = [
      ['operator object', () => post({ email: { $gt: '' } })],
      ['operator in a name', () => post({ email: 'op@example.com', firstName: { $gt: '' } })],
      [
        'CR/LF in a name',
        () => post({ email: 'crlf@example.com', firstName: 'Eve\r\nBcc: all@example.com' }),
      ],
      ['HTML in a name', () => post({ email: 'html@example.com', lastName: '<script>alert(1)</script>' })],
      ['unknown field', () => post({ email: 'unk@example.com', isAdmin: true })],
      ['attribute key with $', () => post({ email: 'attr@example.com', attributes: { $where: 'x' } })],
      ['lone surrogate', () => post({ email: 'sur@example.com', firstName: '\ud800x' })],
      ['not an email', () => post({ email: 'not-an-email' })],
      ['array body', () => post([{ email: 'arr@example.com' }])],
      [
        'malformed JSON',
        () =>
          env.http().post('/api/leads').set(auth).set('Content-Type', 'application/json').send('{"email": '),
      ],
      [
        'wrong content type',
        () => env.http().post('/api/leads').set(auth).set('Content-Type', 'text/plain').send('email=a@b.c'),
      ],
      ['10 MB field', () => post({ email: 'big@example.com', firstName: 'x'.repeat(10 * 1024 * 1024) })],
      [
        'invalid UTF-8',
        () =>
          env
            .http()
            .post('/api/leads')
            .set(auth)
            .set('Content-Type', 'application/json')
            .send(
              Buffer.concat([
                Buffer.from('{"email":"utf@example.com","firstName":"'),
                Buffer.from([0xff, 0xfe]),
                Buffer.from('"}'),
              ]),
            ),
      ],
      ['bad id', () => env.http().get('/api/leads/not-an-id').set(auth)],
      ['repeated query value', () => env.http().get('/api/leads?email=a@b.co&email=c@d.co').set(auth)],
      [
        'operator in PATCH',
        () =>
          env
            .http()
            .patch(`/api/leads/${'a'.repeat(24)}`)
            .set(auth)
            .send({ status: { $gt: '' } }),
      ],
      [
        'operator in merge ids',
        () =>
          env
            .http()
            .post(`/api/leads/${'a'.repeat(24)}/merge`)
            .set(auth)
            .send({ ids: { $gt: '' } }),
      ],
      ['bad idempotency key', () => post({ email: 'ik@example.com' }, { 'Idempotency-Key': 'a b' })],
    ];
    for (const [name, run] of cases) {
      const res = await run();
      expect({ name, status: res.status >= 400 && res.status < 500 }).toEqual({ name, status: true });
    }
    expect(await Lead.countDocuments()).toBe(before);
  });
});
