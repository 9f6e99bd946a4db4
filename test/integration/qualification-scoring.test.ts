import { beforeAll, describe, expect, it } from 'vitest';
import { advanceClock, clock } from '../../src/lib/clock.js';
import { Lead } from '../../src/modules/leads/index.js';
import { HandoffRequest, takenUpdate } from '../../src/modules/qualification/index.js';
import { startQualificationWorker } from '../../workers/qualification.js';
import { startScoringWorker } from '../../workers/scoring.js';
import { useTestEnv } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';

describe('qualification driven by scored events (POST /api/events)', () => {
  const env = useTestEnv();
  let marketing: string;
  const as = (k: string) => ({ Authorization: `Bearer ${k}` });
  beforeAll(async () => {
    marketing = await env.keyFor('marketing');
    startScoringWorker(env.rt);
    startQualificationWorker(env.rt);
    const rules = await env
      .http()
      .put('/api/scoring')
      .set(as(marketing))
      .send({
        rules: [
          { id: 'pricing', event: 'page_view', where: { path: '/pricing' }, points: 10 },
          { id: 'webinar', event: 'webinar', points: 25 },
        ],
      });
    expect(rules.status).toBe(200);
    const agreement = await env
      .http()
      .put('/api/qualification')
      .set(as(marketing))
      .send({ threshold: 40, require: { budget: true }, agreedBy: { marketing: 'M', sales: 'S' } });
    expect(agreement.status).toBe(200);
  });
  const events = (leadId: string, list: Record<string, unknown>[]) =>
    env
      .http()
      .post('/api/events')
      .set(as(marketing))
      .send({ events: list.map((e) => ({ leadId, ...e })) });
  const stored = async (id: string) => (await Lead.findById(id).lean())!;

  it('when scored events cross the threshold, then the lead is an MQL; with the budget answered it qualifies, the request naming the top score reasons', async () => {
    const created = await env
      .http()
      .post('/api/leads')
      .set(as(marketing))
      .send({ email: 'events@example.com' });
    const id = created.body.id as string;
    const first = await events(id, [
      { type: 'page_view', properties: { path: '/pricing' } },
      { type: 'webinar' },
    ]);
    expect(first.status).toBe(202);
    await waitFor(async () => (await stored(id)).score === 35, { what: 'score 35' });
    expect((await stored(id)).lifecycleStage).toBe('lead');
    await events(id, [{ type: 'page_view', properties: { path: '/pricing' } }]);
    await waitFor(async () => (await stored(id)).lifecycleStage === 'mql', { what: 'mql' });
    expect((await stored(id)).status).not.toBe('qualified');

    await env
      .http()
      .patch(`/api/leads/${id}`)
      .set(as(marketing))
      .send({ bant: { budget: '30k' } });
    await waitFor(async () => (await stored(id)).status === 'qualified', { what: 'qualified' });
    const request = (await HandoffRequest.findById(`${id}:1`).lean())!;
    expect(request.reasons.score).toBe(45);
    expect(request.reasons.topReasons.map((r) => [r.ruleId, r.points])).toEqual([
      ['webinar', 25],
      ['pricing', 20],
    ]);
  });

  it('when a rejected lead scores a new positive event after it was recycled, then it qualifies again (cycle 2)', async () => {
    const created = await env
      .http()
      .post('/api/leads')
      .set(as(marketing))
      .send({ email: 'again@example.com' });
    const id = created.body.id as string;
    await env
      .http()
      .patch(`/api/leads/${id}`)
      .set(as(marketing))
      .send({ bant: { budget: 'yes' } });
    await events(id, [{ type: 'webinar' }, { type: 'webinar' }]);
    await waitFor(async () => (await stored(id)).status === 'qualified', { what: 'qualified' });
    // handoff rejects it: back to nurture
    const at = clock.now();
    await HandoffRequest.updateOne({ _id: `${id}:1` }, takenUpdate(at));
    await Lead.updateOne(
      { _id: id },
      { $set: { status: 'nurturing', lifecycleStage: 'lead', recycledAt: at } },
    );
    advanceClock(60_000);
    await events(id, [{ type: 'page_view', properties: { path: '/pricing' } }]);
    await waitFor(async () => (await stored(id)).status === 'qualified', { what: 'requalified' });
    expect((await HandoffRequest.find({ leadId: id }).lean()).map((r) => r._id).sort()).toEqual([
      `${id}:1`,
      `${id}:2`,
    ]);
  });
});
