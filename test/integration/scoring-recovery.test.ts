import { describe, expect, it } from 'vitest';
import { Lead } from '../../src/modules/leads/index.js';
import { HandoffRequest } from '../../src/modules/qualification/index.js';
import { reconcileScoring, ScoredMark } from '../../src/modules/scoring/index.js';
import { lockLeads } from '../../src/modules/scoring/lead-locks.js';
import { getQueue } from '../../src/queues/index.js';
import { useTestEnv } from '../helpers/env.js';
import { auth, createLead, postEvents, putRules, scoringIdle, waitForScore } from '../helpers/scoring.js';
import { waitFor } from '../helpers/wait.js';
import { startQualificationWorker } from '../../workers/qualification.js';
import { startScoringWorker } from '../../workers/scoring.js';

describe('scoring recovers what a killed writer left undone', () => {
  const env = useTestEnv();

  it('when a writer stored the score but stopped before asking qualification, then the reconciler re-runs the events and the lead qualifies', async () => {
    await putRules(env, { rules: [{ id: 'demo', event: 'demo', points: 30 }] });
    const put = await env
      .http()
      .put('/api/qualification')
      .set(auth)
      .send({ threshold: 50, agreedBy: { marketing: 'M', sales: 'S' } });
    expect(put.status).toBe(200);
    await getQueue('qualification-sweep').obliterate({ force: true });
    startScoringWorker(env.rt);
    const lead = await createLead(env, { email: 'crashed-writer@example.com' });
    const res = await postEvents(env, [
      { id: 'rc-1', leadId: lead, type: 'demo' },
      { id: 'rc-2', leadId: lead, type: 'demo' },
    ]);
    expect(res.status).toBe(202);
    await waitForScore(lead, 60);
    // the job marks its events scored after storing the score: let it finish before the "crash"
    await scoringIdle();
    // the crash: the score is stored, but the qualification job and the scored marks never were
    await getQueue('qualification').obliterate({ force: true });
    await ScoredMark.deleteMany({});
    startQualificationWorker(env.rt);

    const r = await reconcileScoring({ olderThanMs: 0 });
    expect(r.events).toBeGreaterThanOrEqual(2);
    await waitFor(async () => (await Lead.findById(lead).lean())?.status === 'qualified', {
      timeout: 20_000,
      what: 'the lead qualified after the reconcile',
    });
    expect(await HandoffRequest.countDocuments({ leadId: lead })).toBe(1);
    await waitForScore(lead, 60);
  }, 60_000);

  it('when a writer holds a lead longer than the lock lifetime, then its lock is renewed; a lock nobody renews lapses', async () => {
    const prefix = `${env.config.queuePrefix}-locks`;
    const a = await lockLeads(env.rt.redis, prefix, ['lead-a'], 1_000);
    expect(a.held).toEqual(['lead-a']);
    // a dead writer's lock: set once, never renewed
    await env.rt.redis.set(`${prefix}:scoring-lock:lead-b`, 'dead', 'PX', 1_000);
    await waitFor(async () => (await env.rt.redis.exists(`${prefix}:scoring-lock:lead-b`)) === 0, {
      timeout: 10_000,
      what: 'the dead lock to lapse',
    });
    // well past a's lifetime, a still holds lead-a
    const again = await lockLeads(env.rt.redis, prefix, ['lead-a', 'lead-b'], 1_000);
    expect(again.busy).toEqual(['lead-a']);
    expect(again.held).toEqual(['lead-b']);
    await again.release();
    await a.release();
    expect(await env.rt.redis.exists(`${prefix}:scoring-lock:lead-a`)).toBe(0);
  }, 30_000);
});
