import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { postLead } from '../helpers/factories.js';

describe('PATCH /api/leads/:id: fields, stages, roles', () => {
  const env = useTestEnv();
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
  const post = (body: unknown, headers: Record<string, string> = {}) => postLead(env, body, headers);

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
});
