import { describe, expect, it } from 'vitest';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { Suppression, emailHash } from '../../src/modules/suppression/index.js';
import { LeadEvent } from '../../src/modules/events/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { postLead } from '../helpers/factories.js';

describe('DELETE /api/leads/:id: erasure', () => {
  const env = useTestEnv();
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
  const post = (body: unknown, headers: Record<string, string> = {}) => postLead(env, body, headers);

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
});
