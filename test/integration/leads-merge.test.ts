import { describe, expect, it } from 'vitest';
import { Account, Contact } from '../../src/modules/crm/index.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { LeadEvent } from '../../src/modules/events/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { postLead } from '../helpers/factories.js';

describe('GET /api/leads/:id/duplicates and POST /api/leads/:id/merge', () => {
  const env = useTestEnv();
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
  const post = (body: unknown, headers: Record<string, string> = {}) => postLead(env, body, headers);

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
    // q matches the start of a field (API.md): the tombstones m1/m2 (and MergeCo) are not listed
    const tombstones = await env.http().get('/api/leads').set(auth).query({ q: 'm' });
    const listed = tombstones.body.items.map((l: { id: string }) => l.id);
    expect(listed).not.toContain(m1.id);
    expect(listed).not.toContain(m2.id);
    const list = await env.http().get('/api/leads').set(auth).query({ q: 'survivor@merge' });
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
});
