import { beforeAll, describe, expect, it } from 'vitest';
import { Handoff } from '../../src/modules/handoff/index.js';
import { Opportunity } from '../../src/modules/crm/index.js';
import { createApiKey } from '../../src/modules/admin/index.js';
import { startHandoffWorker } from '../../workers/handoff.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { makeLead, qualify } from '../helpers/handoff.js';
import { waitFor } from '../helpers/wait.js';
import { browser } from '../helpers/web.js';

describe('web app: the sales inbox and the opportunity board', { timeout: 60_000 }, () => {
  const env = useTestEnv();
  let salesKey: string;

  beforeAll(async () => {
    const put = await env
      .http()
      .put('/api/reps/rep-ana')
      .set('Authorization', `Bearer ${ADMIN_KEY}`)
      .send({ name: 'Ana & Rep', email: 'ana@sales.example' });
    expect(put.status).toBe(200);
    salesKey = (await createApiKey('Ana', 'sales', 'rep-ana')).key;
    startHandoffWorker(env.rt);
  });

  it('when a qualified lead is handed off, then the sales key sees it with its reasons and accepts it', async () => {
    const lead = await makeLead({ firstName: 'Quinn', lastName: 'Qualified', company: 'Quill & Co <b>' });
    const id = await qualify(lead._id);
    await waitFor(async () => (await Handoff.findById(id).lean())?.ownerId === 'rep-ana', {
      what: 'assigned',
    });
    const b = browser(env.app);
    await b.signIn(salesKey);
    const inbox = await b.get('/app/handoffs');
    expect(inbox.status).toBe(200);
    expect(inbox.text).toContain('Quinn Qualified');
    expect(inbox.text).toContain('Quill &amp; Co &lt;b&gt;');
    expect(inbox.text).toContain('Visited /pricing');
    expect(inbox.text).toMatch(/SLA [0-9.]+ (h|min) left/);
    // the owner reads as the rep's name (escaped), not the rep id
    expect(inbox.text).toContain('owner Ana &amp; Rep');
    expect(inbox.text).not.toContain('owner rep-ana');
    const leadPage = await b.get(`/app/leads/${lead._id}`);
    expect(leadPage.text).toContain('<span title="rep-ana">Ana &amp; Rep</span>');
    const accepted = await b.post(`/app/handoffs/${encodeURIComponent(id)}/accept`, {});
    expect(accepted.status).toBe(303);
    expect((await Handoff.findById(id).lean())?.status).toBe('accepted');
    const again = await b.post(`/app/handoffs/${encodeURIComponent(id)}/accept`, {});
    expect(again.status).toBe(409);
  });

  it('when an opportunity is moved on the board, then its stage changes; marketing may look but not move', async () => {
    const lead = await makeLead({ company: 'Board Corp' });
    const id = await qualify(lead._id);
    // assigned: the handoff's owner is written after the opportunity's (applyOwner)
    const h = await waitFor(
      async () => {
        const found = await Handoff.findById(id).lean();
        return found?.ownerId === 'rep-ana' ? found.opportunityId : undefined;
      },
      { what: 'converted and assigned' },
    );
    const b = browser(env.app);
    await b.signIn(salesKey);
    const board = await b.get('/app/opportunities');
    expect(board.status).toBe(200);
    expect(board.text).toContain('Board Corp');
    expect(board.text).toContain('· Ana &amp; Rep</div>');
    const moved = await b.post(`/app/opportunities/${String(h)}/stage`, { stage: 'proposal' });
    expect(moved.status).toBe(303);
    expect((await Opportunity.findById(h).lean())?.stage).toBe('proposal');

    const m = browser(env.app);
    await m.signIn(await env.keyFor('marketing'));
    expect((await m.get('/app/opportunities')).status).toBe(200);
    expect((await m.post(`/app/opportunities/${String(h)}/stage`, { stage: 'closed_won' })).status).toBe(403);
    expect((await Opportunity.findById(h).lean())?.stage).toBe('proposal');
  });

  it('when a handoff is rejected with a reason, then the lead returns to nurture', async () => {
    const lead = await makeLead({ firstName: 'Rita' });
    const id = await qualify(lead._id);
    await waitFor(
      async () =>
        (await Handoff.findById(id).lean())?.status === 'pending' &&
        (await Handoff.findById(id).lean())?.ownerId,
      { what: 'pending' },
    );
    const b = browser(env.app);
    await b.signIn(salesKey);
    await b.get('/app/handoffs');
    const res = await b.post(`/app/handoffs/${encodeURIComponent(id)}/reject`, {
      reason: 'No budget this year',
      recycleTo: '',
    });
    expect(res.status).toBe(303);
    const after = await env
      .http()
      .get(`/api/leads/${String(lead._id)}`)
      .set('Authorization', `Bearer ${ADMIN_KEY}`);
    expect(after.body).toMatchObject({ lifecycleStage: 'lead', status: 'nurturing' });
  });
});
