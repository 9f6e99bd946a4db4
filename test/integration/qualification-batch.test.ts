import { Types } from 'mongoose';
import { beforeAll, describe, expect, it } from 'vitest';
import { clock } from '../../src/lib/clock.js';
import { Lead } from '../../src/modules/leads/index.js';
import { emailKey } from '../../src/modules/leads/normalize.js';
import { evaluateLeads, HandoffRequest, handoffRequestId } from '../../src/modules/qualification/index.js';
import { enqueue, payloadSchemas } from '../../src/queues/index.js';
import { startQualificationWorker } from '../../workers/qualification.js';
import { useTestEnv } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';

describe('qualification evaluates leads in batches', () => {
  const env = useTestEnv();
  beforeAll(async () => {
    const res = await env
      .http()
      .put('/api/qualification')
      .set('Authorization', `Bearer ${await env.keyFor('marketing')}`)
      .send({ threshold: 50, require: { budget: true }, agreedBy: { marketing: 'Maria', sales: 'Sam' } });
    expect(res.status).toBe(200);
  });
  let n = 0;
  async function newLead(extra: Record<string, unknown> = {}): Promise<string> {
    const email = `batch${++n}-${Date.now()}@example.com`;
    const lead = await Lead.create({
      email,
      emailKey: emailKey(email),
      lifecycleStage: 'lead',
      status: 'nurturing',
      stageDates: { lead: clock.now() },
      ...extra,
    });
    return String(lead._id);
  }

  it('when a batch mixes leads, then each gets the outcome it would get alone, and racing batches qualify a lead once', async () => {
    const ready = await newLead({ score: 80, bant: { budget: '50k' } });
    const mql = await newLead({ score: 70 });
    const cold = await newLead({ score: 10, bant: { budget: '50k' } });
    const refused = await newLead({ score: 90, bant: { budget: '50k' }, status: 'unqualified' });
    const merged = await newLead({ score: 90, bant: { budget: '50k' }, mergedInto: new Types.ObjectId() });
    const absent = String(new Types.ObjectId());
    const ids = [ready, mql, cold, refused, merged, absent, ready];

    const [a, b] = await Promise.all([evaluateLeads(ids), evaluateLeads(ids)]);
    const outcomes = [a, b].map((m) => m.get(ready)!.outcome).sort();
    // of two racing evaluations one inserts the request, the other finds it (or sees the lead qualified)
    expect(outcomes.filter((o) => o === 'qualified').length).toBeGreaterThanOrEqual(1);
    expect(await HandoffRequest.countDocuments({ leadId: ready })).toBe(1);
    expect(await HandoffRequest.findById(handoffRequestId(ready, 1)).lean()).not.toBeNull();
    expect((await Lead.findById(ready).lean())?.status).toBe('qualified');

    expect(a.get(mql)).toEqual(expect.objectContaining({ missing: ['budget'] }));
    expect((await Lead.findById(mql).lean())?.lifecycleStage).toBe('mql');
    expect(a.get(cold)).toEqual({ outcome: 'unchanged', missing: ['score'] });
    expect(a.get(refused)).toEqual({ outcome: 'unqualified' });
    expect(a.get(merged)).toEqual({ outcome: 'missing' });
    expect(a.get(absent)).toEqual({ outcome: 'missing' });
    for (const id of [mql, cold, refused, merged])
      expect(await HandoffRequest.countDocuments({ leadId: id })).toBe(0);

    // evaluated again, the qualified lead is left as it is
    expect((await evaluateLeads([ready])).get(ready)).toEqual({ outcome: 'already_qualified' });
  });

  it('when a batch job is queued, then the worker evaluates every lead in it', async () => {
    startQualificationWorker(env.rt);
    const leads = await Promise.all(
      Array.from({ length: 30 }, (_, i) => newLead({ score: i % 2 ? 60 : 5, bant: { budget: 'yes' } })),
    );
    await enqueue('qualification', { leadIds: leads });
    const hot = leads.filter((_, i) => i % 2);
    await waitFor(
      async () => (await HandoffRequest.countDocuments({ leadId: { $in: hot } })) === hot.length,
      {
        timeout: 20_000,
        what: 'every lead over the threshold qualified',
      },
    );
    const cold = leads.filter((_, i) => !(i % 2));
    expect(await Lead.countDocuments({ _id: { $in: cold }, status: 'qualified' })).toBe(0);
  });

  it('when a job names both forms, no lead, too many leads or a bad id, then it is refused before it is queued', () => {
    const schema = payloadSchemas.qualification;
    const id = String(new Types.ObjectId());
    expect(schema.safeParse({ leadId: id }).success).toBe(true);
    expect(schema.safeParse({ leadIds: [id] }).success).toBe(true);
    expect(schema.safeParse({ leadId: id, leadIds: [id] }).success).toBe(false);
    expect(schema.safeParse({ leadIds: [] }).success).toBe(false);
    expect(schema.safeParse({ leadIds: Array.from({ length: 1001 }, () => id) }).success).toBe(false);
    expect(schema.safeParse({ leadIds: ['{"$gt":""}'] }).success).toBe(false);
  });
});
