import { Redis } from 'ioredis';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { Account, Contact } from '../../src/modules/crm/index.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { Suppression, emailHash } from '../../src/modules/suppression/index.js';
import { LeadEvent } from '../../src/modules/events/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { IdempotencyKey } from '../../src/modules/leads/idempotency.model.js';
import { hashRequest } from '../../src/modules/leads/idempotency.service.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';

describe('/api/leads', () => {
  const env = useTestEnv();
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    env
      .http()
      .post('/api/leads')
      .set(auth)
      .set(headers)
      .send(body as object);

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

  it('when leads are listed with filters and a cursor, then pages cover each match once', async () => {
    for (let i = 0; i < 5; i++) await post({ email: `page${i}@list.example`, company: 'Listco' });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await env
        .http()
        .get('/api/leads')
        .set(auth)
        .query({ q: 'listco', limit: 2, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((l: { email: string }) => l.email));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4].map((i) => `page${i}@list.example`));
    const byEmail = await env.http().get('/api/leads').set(auth).query({ email: 'PAGE3@list.example' });
    expect(byEmail.body.items.map((l: { email: string }) => l.email)).toEqual(['page3@list.example']);
    const bad = await env.http().get('/api/leads').set(auth).query({ status: 'nope' });
    expect(bad.status).toBe(400);
  });

  it('when status and stage are patched, then the changes are in the timeline and stages only move forward', async () => {
    const { body: lead } = await post({ email: 'patch@example.com' });
    const p = await env
      .http()
      .patch(`/api/leads/${lead.id}`)
      .set(auth)
      .send({ status: 'contacted', lifecycleStage: 'mql', bant: { budget: '10k' } });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ status: 'contacted', lifecycleStage: 'mql', bant: { budget: '10k' } });
    const back = await env.http().patch(`/api/leads/${lead.id}`).set(auth).send({ lifecycleStage: 'lead' });
    expect(back.status).toBe(400);
    const t = await env.http().get(`/api/leads/${lead.id}/timeline`).set(auth);
    expect(t.status).toBe(200);
    expect(t.body.items.map((e: { kind: string }) => e.kind)).toEqual(
      expect.arrayContaining(['status_change', 'stage_change', 'api_submit']),
    );
    expect(t.body.items.find((e: { kind: string }) => e.kind === 'status_change').properties).toEqual({
      from: 'open',
      to: 'contacted',
    });
    expect(t.body.nextCursor).toBeNull();
  });

  it('when the timeline is paged, then items come newest first across pages', async () => {
    const { body: lead } = await post({ email: 'timeline@example.com' });
    for (const status of ['contacted', 'nurturing', 'qualified'] as const) {
      await env.http().patch(`/api/leads/${lead.id}`).set(auth).send({ status });
    }
    const p1 = await env.http().get(`/api/leads/${lead.id}/timeline`).set(auth).query({ limit: 2 });
    const p2 = await env
      .http()
      .get(`/api/leads/${lead.id}/timeline`)
      .set(auth)
      .query({ limit: 2, cursor: p1.body.nextCursor });
    const all = [...p1.body.items, ...p2.body.items];
    expect(all).toHaveLength(4);
    expect(all[0].properties.to).toBe('qualified');
    expect(all[3].kind).toBe('api_submit');
    expect(p2.body.nextCursor).toBeNull();
  });

  it('when sales patches, then status/BANT/owner pass and other fields are 403; sales cannot create', async () => {
    const sales = { Authorization: `Bearer ${await env.keyFor('sales')}` };
    const { body: lead } = await post({ email: 'sales@example.com' });
    const ok = await env
      .http()
      .patch(`/api/leads/${lead.id}`)
      .set(sales)
      .send({ status: 'contacted', ownerId: 'rep-1' });
    expect(ok.status).toBe(200);
    const no = await env.http().patch(`/api/leads/${lead.id}`).set(sales).send({ company: 'X' });
    expect(no.status).toBe(403);
    const create = await env.http().post('/api/leads').set(sales).send({ email: 'x@example.com' });
    expect(create.status).toBe(403);
    expect((await env.http().get(`/api/leads/${lead.id}`).set(sales)).body.company).toBeNull();
  });

  it('when a lead is deleted, then the person is erased and only a suppression hash remains', async () => {
    const { body: lead } = await post({ email: 'Erase.Me@example.com' });
    await Suppression.create({ emailHash: emailHash('other-unsub@example.com'), reason: 'unsubscribe' });
    await EmailSend.create({ sendKey: `x:${lead.id}`, leadId: lead.id, content: { subject: 'hi' } });
    const del = await env.http().delete(`/api/leads/${lead.id}`).set(auth);
    expect(del.status).toBe(204);
    expect(await Lead.countDocuments({ _id: lead.id })).toBe(0);
    expect(await LeadEvent.countDocuments({ leadId: lead.id })).toBe(0);
    expect(await EmailSend.countDocuments({ leadId: lead.id })).toBe(0);
    const s = await Suppression.findOne({ emailHash: emailHash('erase.me@example.com') }).lean();
    expect(s?.reason).toBe('erased');
    expect((await env.http().get(`/api/leads/${lead.id}`).set(auth)).status).toBe(404);
  });

  it('when an unsubscribed person is erased, then the stronger suppression reason is kept', async () => {
    const { body: lead } = await post({ email: 'unsub@example.com' });
    await Suppression.create({ emailHash: emailHash('unsub@example.com'), reason: 'unsubscribe' });
    expect((await env.http().delete(`/api/leads/${lead.id}`).set(auth)).status).toBe(204);
    const s = await Suppression.findOne({ emailHash: emailHash('unsub@example.com') }).lean();
    expect(s?.reason).toBe('unsubscribe');
    // the person comes back: a new lead, and the unsubscribe is still honoured
    const back = await post({ email: 'Unsub@example.com' });
    expect(back.status).toBe(201);
    expect(back.body.unsubscribed).toBe(true);
  });

  it('when duplicates are asked for, then leads and contacts matching by name+company or phone come with reasons', async () => {
    const { body: a } = await post({
      email: 'a@dup.example',
      firstName: 'Ann',
      lastName: 'Lee',
      company: 'Dupco',
      phone: '+44 20 7946 0958',
    });
    const { body: b } = await post({
      email: 'b@dup.example',
      firstName: 'ann',
      lastName: 'LEE',
      company: 'dupco',
    });
    const { body: c } = await post({ email: 'c@dup.example', phone: '+442079460958' });
    await post({ email: 'd@dup.example', firstName: 'Ann', lastName: 'Lee', company: 'Other' });
    const account = await Account.create({ name: 'Dupco', nameKey: 'dupco' });
    const contact = await Contact.create({
      email: 'A@dup.example',
      emailKey: 'a@dup.example',
      accountId: account._id,
      firstName: 'Ann',
      lastName: 'Lee',
    });
    const res = await env.http().get(`/api/leads/${a.id}/duplicates`).set(auth);
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual(
      expect.arrayContaining([
        { kind: 'lead', id: b.id, reasons: ['name_company'] },
        { kind: 'lead', id: c.id, reasons: ['phone'] },
        { kind: 'contact', id: String(contact._id), reasons: ['email', 'name_company'] },
      ]),
    );
    expect(res.body.items).toHaveLength(3);
    const contactRes = await env
      .http()
      .get(`/api/contacts/${String(contact._id)}`)
      .set(auth);
    expect(contactRes.body).toMatchObject({ id: String(contact._id), accountId: String(account._id) });
    expect(
      (
        await env
          .http()
          .get(`/api/accounts/${String(account._id)}`)
          .set(auth)
      ).body.name,
    ).toBe('Dupco');
    expect((await env.http().get('/api/contacts/nope').set(auth)).status).toBe(404);
  });

  it('when leads are merged, then history moves to the survivor and the merged ids resolve to it', async () => {
    const { body: s } = await post({ email: 'survivor@merge.example', firstName: 'Sue' });
    const { body: m1 } = await post({ email: 'm1@merge.example', firstName: 'Other', company: 'MergeCo' });
    const { body: m2 } = await post({ email: 'm2@merge.example', title: 'CEO', attributes: { plan: 'pro' } });
    await env.http().patch(`/api/leads/${m2.id}`).set(auth).send({ lifecycleStage: 'mql' });
    await EmailSend.create({ sendKey: `e:${m1.id}`, leadId: m1.id, content: { subject: 'hi' } });
    const res = await env
      .http()
      .post(`/api/leads/${s.id}/merge`)
      .set(auth)
      .send({ ids: [m1.id, m2.id] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: s.id,
      firstName: 'Sue',
      company: 'MergeCo',
      title: 'CEO',
      lifecycleStage: 'mql',
      attributes: { plan: 'pro' },
    });
    expect(await LeadEvent.countDocuments({ leadId: { $in: [m1.id, m2.id] } })).toBe(0);
    expect(await EmailSend.countDocuments({ leadId: s.id })).toBe(1);
    const t = await env.http().get(`/api/leads/${s.id}/timeline`).set(auth).query({ limit: 100 });
    const kinds = t.body.items.map((e: { kind: string }) => e.kind);
    expect(kinds[0]).toBe('merged');
    expect(kinds.filter((k: string) => k === 'api_submit')).toHaveLength(3);
    const old = await env.http().get(`/api/leads/${m1.id}`).set(auth);
    expect(old.status).toBe(200);
    expect(old.body.id).toBe(s.id);
    // a later submission of a merged email lands on the survivor
    const again = await post({ email: 'M2@merge.example' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(s.id);
    const list = await env.http().get('/api/leads').set(auth).query({ q: 'merge.example' });
    expect(list.body.items.map((l: { id: string }) => l.id)).toEqual([s.id]);
    const twice = await env
      .http()
      .post(`/api/leads/${s.id}/merge`)
      .set(auth)
      .send({ ids: [m1.id] });
    expect(twice.status).toBe(409);
    const self = await env
      .http()
      .post(`/api/leads/${s.id}/merge`)
      .set(auth)
      .send({ ids: [s.id] });
    expect(self.status).toBe(400);
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
