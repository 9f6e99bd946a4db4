import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LeadEvent } from '../../src/modules/events/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { advanceClock } from '../../src/lib/clock.js';
import {
  HandoffRequest,
  handoffJobId,
  reconcileQualification,
} from '../../src/modules/qualification/index.js';
import { reconcileScoring, ScoreEntry } from '../../src/modules/scoring/index.js';
import { getQueue } from '../../src/queues/index.js';
import { useTestEnv } from '../helpers/env.js';
import { root, startProcess, type Spawned } from '../helpers/processes.js';
import { auth, createLead, ledgerSum, postEvents, putRules, storedScore } from '../helpers/scoring.js';
import { waitFor } from '../helpers/wait.js';

// Issue 10's done-when, through the public path: 20 concurrent POST /api/events batches for the
// same leads, scored and qualified by three worker processes, one SIGKILLed mid-batch.
const LEADS = 10;
const BATCHES = 20;
const PER_LEAD = 4;
/** event ids repeat across neighbouring batches: 80 posted per lead, 60 distinct */
const DISTINCT = 60;
const POINTS = 5;

describe('exactly one handoff request under 20 concurrent qualifying event batches on three worker processes', () => {
  const env = useTestEnv({ SCORING_LOCK_MS: '5000' });
  const workers: Spawned[] = [];

  /** scoring + qualification workers in one real process (node itself, so SIGKILL kills it) */
  function startWorker(): Spawned {
    const uri = new URL(inject('mongodbUri'));
    uri.pathname = `/${env.dbName}`;
    const w = startProcess(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/scoring-qualification-worker.ts'],
      {
        MONGODB_URI: uri.toString(),
        REDIS_URL: env.config.redisUrl,
        QUEUE_PREFIX: env.config.queuePrefix,
        DATA_DIR: env.config.dataDir,
        ADMIN_API_KEY: 'events-crash-admin-key-0123456789',
        LOG_LEVEL: 'info',
        WORKER_CONCURRENCY: '4',
        SCORING_LOCK_MS: '5000',
        NODE_PATH: `${root}/node_modules`,
      },
    );
    workers.push(w);
    return w;
  }

  beforeAll(async () => {
    await putRules(env, { rules: [{ id: 'demo', event: 'demo_view', points: POINTS }] });
    const put = await env
      .http()
      .put('/api/qualification')
      .set(auth)
      .send({ threshold: 100, agreedBy: { marketing: 'M', sales: 'S' } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    for (let i = 0; i < 3; i++) startWorker();
    await Promise.all(workers.map((w) => w.waitForOutput(/^ready$/m, 90_000)));
  });
  afterAll(async () => {
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  });

  it('when a worker is SIGKILLed mid-batch, then each lead has one request and one handoff job, and score == ledger sum == its distinct events', async () => {
    const tag = Date.now().toString(36);
    const ids: string[] = [];
    for (let i = 0; i < LEADS; i++) ids.push(await createLead(env, { email: `ev${i}-${tag}@example.com` }));
    const batch = (b: number) =>
      ids.flatMap((leadId, l) =>
        Array.from({ length: PER_LEAD }, (_, k) => ({
          id: `${tag}-${l}-${(b * PER_LEAD + k) % DISTINCT}`,
          leadId,
          type: 'demo_view',
        })),
      );
    const answers = Promise.all(Array.from({ length: BATCHES }, (_, b) => postEvents(env, batch(b))));
    // mid-batch: some awards written, not all of them
    await waitFor(async () => (await ScoreEntry.countDocuments({ ruleId: 'demo' })) >= 10, {
      timeout: 60_000,
      interval: 20,
      what: 'first awards',
    });
    const victim = workers[0]!;
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    expect(await ScoreEntry.countDocuments({ ruleId: 'demo' })).toBeLessThan(LEADS * DISTINCT);
    startWorker();

    const posted = await answers;
    expect(posted.map((a) => a.status)).toEqual(Array(BATCHES).fill(202));
    expect(posted.reduce((s, a) => s + a.body.accepted, 0)).toBe(LEADS * DISTINCT);
    expect(posted.reduce((s, a) => s + a.body.duplicates, 0)).toBe(LEADS * (BATCHES * PER_LEAD - DISTINCT));

    // the survivors and the restarted worker take over what the killed one held; the
    // maintenance reconcile (run here early, as the scheduler would a minute later) rescues the
    // events only the killed worker had taken from a lead's mailbox, and requests it left unqueued
    const expected = DISTINCT * POINTS;
    let passes = 0;
    await waitFor(
      async () => {
        if (++passes % 8 === 0) {
          await reconcileScoring({ olderThanMs: 0 });
          advanceClock(2 * 60_000);
          await reconcileQualification();
        }
        for (const id of ids) if ((await storedScore(id)) !== expected) return false;
        return (await Lead.countDocuments({ _id: { $in: ids }, status: 'qualified' })) === LEADS;
      },
      { timeout: 120_000, interval: 250, what: 'every lead scored and qualified' },
    );

    for (const id of ids) {
      expect(await ledgerSum(id)).toBe(expected);
      // one award per distinct event: nothing counted twice, nothing lost
      const awards = await ScoreEntry.find({ leadId: id, ruleId: 'demo' }, { eventId: 1 }).lean();
      expect(new Set(awards.map((a) => String(a.eventId))).size).toBe(DISTINCT);
      expect(awards).toHaveLength(DISTINCT);
      expect(await LeadEvent.countDocuments({ leadId: id, type: 'demo_view' })).toBe(DISTINCT);
    }
    const requests = await HandoffRequest.find({}, { _id: 1 }).lean();
    expect(requests.map((r) => r._id).sort()).toEqual(ids.map((id) => `${id}:1`).sort());
    const handoffs = await getQueue('handoff').getJobs([
      'waiting',
      'active',
      'delayed',
      'prioritized',
      'completed',
      'failed',
    ]);
    expect(handoffs.map((j) => j.id).sort()).toEqual(ids.map((id) => handoffJobId(`${id}:1`)).sort());
    const qualified = await LeadEvent.find({ leadId: { $in: ids }, type: 'qualified' }, { leadId: 1 }).lean();
    expect(qualified.map((e) => String(e.leadId)).sort()).toEqual([...ids].sort());
  }, 180_000);
});
