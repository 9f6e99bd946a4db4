import mongoose from 'mongoose';
import { beforeAll, describe, expect, it } from 'vitest';
import { Account, Contact, Opportunity } from '../../src/modules/crm/index.js';
import { Enrollment } from '../../src/modules/sequences/index.js';
import { Handoff, HandoffClaim, Rep, reconcileHandoffs } from '../../src/modules/handoff/index.js';
import { createLogger } from '../../src/lib/logger.js';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { HandoffRequest } from '../../src/modules/qualification/index.js';
import { startHandoffWorker } from '../../workers/handoff.js';
import { useTestEnv } from '../helpers/env.js';
import { makeLead, qualify } from '../helpers/handoff.js';
import { startSmtpSink } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';
import { startWebhookWorker } from '../../workers/webhook.js';

const sink = await startSmtpSink();
const receiver = await startWebhookReceiver();

describe('handoff: convert, assign, notify, loop back', { timeout: 120_000 }, () => {
  const env = useTestEnv({ SMTP_URL: sink.url, WEBHOOK_ALLOW_PRIVATE: 'true' });
  let secret: string;
  let admin: string;
  let sales: string;
  let marketing: string;
  beforeAll(async () => {
    admin = 'test-admin-key-0123456789abcdef';
    sales = await env.keyFor('sales');
    marketing = await env.keyFor('marketing');
    await mongoose.connection
      .db!.collection<{ _id: number; [k: string]: unknown }>('qualificationagreements')
      .insertOne({
        _id: 1,
        threshold: 100,
        createOpportunity: true,
        opportunity: { amount: 25000, closeIn: '45d' },
        slaHours: 4,
        agreedBy: { marketing: 'Mia Marketing', sales: 'Sam Sales' },
      });
    const hook = await env
      .http()
      .put('/api/webhooks/all')
      .set(as(admin))
      .send({
        url: receiver.url,
        events: [
          'lead.qualified',
          'handoff.created',
          'handoff.accepted',
          'handoff.rejected',
          'opportunity.stage_changed',
        ],
      });
    expect(hook.status, JSON.stringify(hook.body)).toBe(200);
    secret = hook.body.secret;
    startWebhookWorker(env.rt);
    startHandoffWorker(env.rt);
    return async () => {
      await sink.close();
      await receiver.close();
    };
  });
  const as = (key: string) => ({ Authorization: `Bearer ${key}` });
  const putRep = async (id: string, body: object) => {
    const res = await env.http().put(`/api/reps/${id}`).set(as(admin)).send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };
  const handoffOf = (id: string) =>
    waitFor(
      async () => {
        const h = await Handoff.findById(id).lean();
        return h &&
          h.notificationStatus !== 'pending' &&
          (h.ownerId || h.notificationStatus === 'awaiting_owner')
          ? h
          : undefined;
      },
      { what: `handoff ${id} processed`, timeout: 60_000 },
    );
  const mailsTo = (addr: string) => sink.messages.filter((m) => m.envelopeTo.includes(addr));

  it('when a qualified lead is handed off, then it is converted, assigned and its owner notified with the reasons', async () => {
    await putRep('ana', { name: 'Ana Rep', email: 'ana@sales.test' });
    const lead = await makeLead({ company: 'Globex <b>Corp</b>', firstName: 'Hank\r\nBcc: evil@x.test' });
    const id = await qualify(lead._id);
    const h = await handoffOf(id);
    expect(h.ownerId).toBe('ana');
    expect(h.notificationStatus).toBe('sent');
    const after = await Lead.findById(lead._id).lean();
    expect(after!.status).toBe('converted');
    expect(after!.lifecycleStage).toBe('opportunity');
    expect(after!.convertedAt).toBeTruthy();
    expect(after!.conversion).toEqual({
      accountId: h.accountId,
      contactId: h.contactId,
      opportunityId: h.opportunityId,
    });
    expect(after!.ownerId).toBe('ana');
    const opp = await Opportunity.findById(h.opportunityId).lean();
    expect(opp!.stage).toBe('prospecting');
    expect(opp!.amount).toBe(25000);
    expect(opp!.name).toMatch(/^Globex <b>Corp<\/b> – \d{4}-\d{2}-\d{2}$/);
    expect(Math.round((opp!.closeDate!.getTime() - Date.now()) / 86_400_000)).toBe(45);
    const contact = await env.http().get(`/api/contacts/${h.contactId}`).set(as(sales));
    expect(contact.body.leadId).toBe(String(lead._id));
    expect(contact.body.opportunities.map((o: { id: string }) => o.id)).toEqual([h.opportunityId]);
    const account = await env.http().get(`/api/accounts/${h.accountId}`).set(as(sales));
    expect(account.body.ownerId).toBe('ana');
    expect(account.body.opportunities).toHaveLength(1);

    const [mail] = await waitFor(() =>
      mailsTo('ana@sales.test').length ? mailsTo('ana@sales.test') : undefined,
    );
    const html = String(mail!.parsed.html);
    expect(html).toContain('Globex &lt;b&gt;Corp&lt;/b&gt;');
    expect(html).not.toContain('<b>Corp</b>');
    expect(html).toContain('Requested a demo');
    expect(html).toContain('50k');
    expect(html).toContain('version 1');
    expect(html).toContain('Mia Marketing and Sam Sales');
    expect(html).toMatch(/href="http:\/\/leadflow\.test\/h\/[^"]+"/);
    expect(html).not.toMatch(/unsubscribe/i);
    expect(mail!.parsed.headers.get('list-unsubscribe')).toBeUndefined();
    expect(mail!.parsed.bcc).toBeUndefined();
    expect(String(mail!.parsed.subject)).not.toMatch(/[\r\n]/);
    expect(mail!.raw.toString().split(/\r?\n\r?\n/)[0]).not.toMatch(/^Bcc:/im);

    const timeline = await env.http().get(`/api/leads/${lead._id}/timeline`).set(as(sales));
    const kinds = timeline.body.items.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(['converted', 'handoff_created', 'handoff_assigned', 'handoff_notified']),
    );
    await waitFor(async () => (await HandoffRequest.findById(id).lean())?.processedAt);
  });

  it('when the notification link is followed, then a page asks first and the POST accepts as the owner', async () => {
    const lead = await makeLead();
    const id = await qualify(lead._id);
    await handoffOf(id);
    const mail = await waitFor(() => sink.messages.find((m) => m.raw.toString().includes(id)));
    const accept = /href="http:\/\/leadflow\.test(\/h\/[^"]+)"/.exec(String(mail.parsed.html))![1]!;
    const page = await env.http().get(accept);
    expect(page.status).toBe(200);
    expect((await Handoff.findById(id).lean())!.status).toBe('pending');
    const forged = await env.http().post(accept.slice(0, -2) + 'xx');
    expect(forged.status).toBe(404);
    const done = await env.http().post(accept);
    expect(done.status).toBe(200);
    expect(done.text).toContain('Accepted');
    const h = (await Handoff.findById(id).lean())!;
    expect(h.status).toBe('accepted');
    expect(h.decidedBy).toBe(h.ownerId);
    expect((await env.http().post(accept)).status).toBe(409);
  });

  it('when a lead of a known company domain converts, then it joins that account; free-mail never matches', async () => {
    const a = await makeLead({ email: `x${Date.now()}@initech.example` });
    const b = await makeLead({ email: `y${Date.now()}@initech.example`, company: 'Initech Labs' });
    const ha = await handoffOf(await qualify(a._id));
    const hb = await handoffOf(await qualify(b._id));
    expect(hb.accountId).toBe(ha.accountId);
    expect(hb.ownerId).toBe(ha.ownerId);
    const g1 = await makeLead({ email: `g1${Date.now()}@gmail.com`, company: `Solo ${Date.now()} A` });
    const g2 = await makeLead({ email: `g2${Date.now()}@gmail.com`, company: `Solo ${Date.now()} B` });
    const h1 = await handoffOf(await qualify(g1._id));
    const h2 = await handoffOf(await qualify(g2._id));
    expect(h1.accountId).not.toBe(h2.accountId);
    expect((await Account.findById(h1.accountId).lean())!.domain).toBeNull();
    // the same company name (normalised) matches without a domain
    const n1 = await makeLead({ email: `n1${Date.now()}@yahoo.com`, company: 'Umbrella Corp' });
    const n2 = await makeLead({ email: `n2${Date.now()}@hotmail.com`, company: '  umbrella   corp. ' });
    const hn1 = await handoffOf(await qualify(n1._id));
    const hn2 = await handoffOf(await qualify(n2._id));
    expect(hn2.accountId).toBe(hn1.accountId);
  });

  it('when the email belongs to a contact, then the contact is reused and only its empty fields are filled', async () => {
    const email = `known${Date.now()}@hooli.example`;
    const acc = await Account.create({ name: 'Hooli', nameKey: 'hooli', ownerId: null });
    const c = await Contact.create({
      email,
      emailKey: email,
      firstName: 'Gavin',
      lastName: null,
      title: null,
      accountId: acc._id,
    });
    const lead = await makeLead({
      email,
      firstName: 'G.',
      lastName: 'Belson',
      title: 'CEO',
      company: 'Hooli XYZ',
    });
    const h = await handoffOf(await qualify(lead._id));
    expect(h.contactId).toBe(String(c._id));
    expect(h.accountId).toBe(String(acc._id));
    const after = (await Contact.findById(c._id).lean())!;
    expect(after.firstName).toBe('Gavin');
    expect(after.lastName).toBe('Belson');
    expect(after.title).toBe('CEO');
    expect(await Contact.countDocuments({ emailKey: email })).toBe(1);
  });

  it('when the account has an owner, then its new handoff goes to that owner; a returning contact gets a new opportunity', async () => {
    await putRep('bob', { name: 'Bob Rep', email: 'bob@sales.test' });
    const acc = await Account.create({
      name: 'Vandelay',
      nameKey: 'vandelay',
      domain: 'vandelay.example',
      ownerId: 'bob',
    });
    const first = await makeLead({ email: `art${Date.now()}@vandelay.example`, company: 'Vandelay' });
    const h1 = await handoffOf(await qualify(first._id));
    expect(h1.accountId).toBe(String(acc._id));
    expect(h1.ownerId).toBe('bob');
    // the contact comes back as a new lead (capture sets existingContactId)
    await Lead.deleteOne({ _id: first._id });
    const back = await makeLead({
      email: first.email,
      emailKey: first.emailKey,
      existingContactId: h1.contactId,
    });
    const h2 = await handoffOf(await qualify(back._id));
    expect(h2.contactId).toBe(h1.contactId);
    expect(h2.accountId).toBe(h1.accountId);
    expect(h2.opportunityId).not.toBe(h1.opportunityId);
    expect(h2.ownerId).toBe('bob');
    expect(await Account.countDocuments({ domain: 'vandelay.example' })).toBe(1);
  });

  it('when sales rejects with a recycle sequence, then the lead is nurtured again and a requalification reuses its records', async () => {
    const seq = await env
      .http()
      .put('/api/sequences/recycle')
      .set(as(marketing))
      .send({
        name: 'Recycle',
        steps: [{ id: 'r1', wait: '1d', subject: 'Still there?', html: '<p>Hi</p>' }],
        exitOn: ['converted', 'unsubscribed'],
      });
    expect(seq.status, JSON.stringify(seq.body)).toBeLessThan(300);
    const lead = await makeLead();
    const id = await qualify(lead._id);
    const h = await handoffOf(id);
    const bad = await env
      .http()
      .post(`/api/handoffs/${id}/reject`)
      .set(as(sales))
      .send({ reason: 'x', recycleTo: 'nope' });
    expect(bad.status).toBe(400);
    expect((await Handoff.findById(id).lean())!.status).toBe('pending');
    const res = await env
      .http()
      .post(`/api/handoffs/${id}/reject`)
      .set(as(sales))
      .send({ reason: 'No budget this year', recycleTo: 'recycle' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe('rejected');
    expect(res.body.reason).toBe('No budget this year');
    const l = (await env.http().get(`/api/leads/${lead._id}`).set(as(sales))).body;
    expect(l.lifecycleStage).toBe('lead');
    expect(l.status).toBe('nurturing');
    expect(l.score).toBe(120);
    expect((await Lead.findById(lead._id).lean())!.recycledAt).toBeTruthy();
    const opp = (await env.http().get(`/api/opportunities/${h.opportunityId}`).set(as(sales))).body;
    expect(opp.stage).toBe('closed_lost');
    expect(opp.lostReason).toBe('No budget this year');
    expect(
      await Enrollment.countDocuments({ leadId: lead._id, sequenceKey: 'recycle', state: 'active' }),
    ).toBe(1);
    // the opportunity can still change stage
    const reopened = await env
      .http()
      .patch(`/api/opportunities/${h.opportunityId}`)
      .set(as(sales))
      .send({ stage: 'qualification' });
    expect(reopened.body.stage).toBe('qualification');
    // qualifies again: a new handoff and opportunity on the same account and contact
    const id2 = await qualify(lead._id, { cycle: 2 });
    const h2 = await handoffOf(id2);
    expect(h2.accountId).toBe(h.accountId);
    expect(h2.contactId).toBe(h.contactId);
    expect(h2.opportunityId).not.toBe(h.opportunityId);
    expect(await Contact.countDocuments({ emailKey: lead.emailKey })).toBe(1);
    const l2 = (await Lead.findById(lead._id).lean())!;
    expect(l2.status).toBe('converted');
    expect(l2.conversion!.opportunityId).toBe(h2.opportunityId);
    const kinds = (await env.http().get(`/api/leads/${lead._id}/timeline`).set(as(sales))).body.items.map(
      (e: { kind: string }) => e.kind,
    );
    expect(kinds).toEqual(expect.arrayContaining(['handoff_rejected', 'enrolled', 'stage_change']));
  });

  it('when an opportunity is won, then the account is a customer and the lead reaches customer', async () => {
    const lead = await makeLead();
    const h = await handoffOf(await qualify(lead._id));
    const res = await env
      .http()
      .patch(`/api/opportunities/${h.opportunityId}`)
      .set(as(sales))
      .send({ stage: 'closed_won', amount: 99000 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.amount).toBe(99000);
    expect((await Account.findById(h.accountId).lean())!.type).toBe('customer');
    expect((await Lead.findById(lead._id).lean())!.lifecycleStage).toBe('customer');
    const list = await env
      .http()
      .get(`/api/opportunities?stage=closed_won&accountId=${h.accountId}`)
      .set(as(sales));
    expect(list.body.items.map((o: { id: string }) => o.id)).toEqual([h.opportunityId]);
    const lost = await env
      .http()
      .patch(`/api/opportunities/${h.opportunityId}`)
      .set(as(sales))
      .send({ stage: 'closed_lost', reason: 'Went with a rival' });
    expect(lost.body.lostReason).toBe('Went with a rival');
  });

  it('when no rep is active, then the handoff waits with no owner and a new rep gets it', async () => {
    await Rep.updateMany({}, { $set: { active: false } });
    const lead = await makeLead();
    const id = await qualify(lead._id);
    const h = await handoffOf(id);
    expect(h.ownerId).toBeNull();
    expect(h.notificationStatus).toBe('awaiting_owner');
    const list = await env.http().get('/api/handoffs?status=pending').set(as(sales));
    expect(list.body.items.find((x: { id: string }) => x.id === id).ownerId).toBeNull();
    await putRep('cat', { name: 'Cat Rep', email: 'cat@sales.test' });
    const assigned = await waitFor(async () => {
      const x = await Handoff.findById(id).lean();
      return x?.notificationStatus === 'sent' ? x : undefined;
    });
    expect(assigned.ownerId).toBe('cat');
    await waitFor(() => mailsTo('cat@sales.test').length > 0);
    await Rep.updateMany({}, { $set: { active: true } });
  });

  it('when a lead is converted by hand into chosen records, then those are used, and a second conversion is refused', async () => {
    const acc = await Account.create({ name: 'Chosen', nameKey: 'chosen' });
    const lead = await makeLead({ email: `manual${Date.now()}@gmail.com` });
    const res = await env
      .http()
      .post(`/api/leads/${lead._id}/convert`)
      .set(as(marketing))
      .send({ accountId: String(acc._id), createOpportunity: false });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.accountId).toBe(String(acc._id));
    expect(res.body.opportunityId).toBeNull();
    expect((await Lead.findById(lead._id).lean())!.lifecycleStage).toBe('sql');
    const again = await env.http().post(`/api/leads/${lead._id}/convert`).set(as(marketing)).send({});
    expect(again.status).toBe(409);
    const missing = await env
      .http()
      .post(`/api/leads/${lead._id}/convert`)
      .set(as(marketing))
      .send({ accountId: 'f'.repeat(24) });
    expect(missing.status).toBe(409);
  });

  it('when a worker died mid-notification, then the handoff is marked unknown and the email is not sent again', async () => {
    const lead = await makeLead();
    const id = await qualify(lead._id, { enqueue: false });
    // what a worker killed between its claim and the SMTP answer leaves: a claim without an outcome
    await Handoff.create({
      _id: id,
      leadId: lead._id,
      cycle: 1,
      qualifiedAt: new Date(),
      agreementVersion: 1,
    });
    await HandoffClaim.collection.insertOne({
      _id: `notify:${id}:1`,
      value: { ownerId: 'ana' },
      owner: 'a-dead-worker',
      createdAt: new Date(Date.now() - 10 * 60_000),
    } as never);
    const before = sink.messages.length;
    await reconcileHandoffs(env.rt, createLogger('silent', 'test'), { olderThanMs: 0 });
    const h = (await Handoff.findById(id).lean())!;
    expect(h.ownerId).toBeTruthy();
    expect(h.notificationStatus).toBe('unknown');
    expect(h.accountId).toBeTruthy();
    await reconcileHandoffs(env.rt, createLogger('silent', 'test'), { olderThanMs: 0 });
    expect(sink.messages.slice(before).filter((m) => m.raw.toString().includes(id))).toHaveLength(0);
    expect((await HandoffRequest.findById(id).lean())!.processedAt).toBeTruthy();
  });

  it('when handoffs are created, decided and their opportunities move, then signed webhooks tell a CRM each of it', async () => {
    const verifier = new StandardWebhook(secret);
    const types = await waitFor(
      () => {
        const t = new Set(receiver.received.map((r) => (JSON.parse(r.body) as { type: string }).type));
        return [
          'lead.qualified',
          'handoff.created',
          'handoff.accepted',
          'handoff.rejected',
          'opportunity.stage_changed',
        ].every((x) => t.has(x))
          ? t
          : undefined;
      },
      { timeout: 30_000, what: 'every handoff webhook type' },
    );
    expect(types.size).toBe(5);
    for (const r of receiver.received) {
      const body = verifier.verify(r.body, r.headers) as { type: string; data: { leadId: string } };
      expect(body.data.leadId).toMatch(/^[a-f0-9]{24}$/);
    }
    const ids = receiver.received.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
