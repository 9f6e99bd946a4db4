import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { advanceClock } from '../../src/lib/clock.js';
import { LeadEvent } from '../../src/modules/events/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { emailKey } from '../../src/modules/leads/normalize.js';
import {
  HandoffRequest,
  handoffJobId,
  reconcileQualification,
} from '../../src/modules/qualification/index.js';
import { enqueue, getQueue } from '../../src/queues/index.js';
import { useTestEnv } from '../helpers/env.js';
import { root, startProcess, type Spawned } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const LEADS = 12;
const BATCHES = 20;
const allBant = { budget: '20k', authority: true, need: 'Replace spreadsheets', timeline: 'this quarter' };

describe('exactly one handoff request under concurrent qualifying batches on three worker processes', () => {
  const env = useTestEnv();
  const workers: Spawned[] = [];
  let sales: string;

  /** a real worker process (node itself, not the tsx wrapper, so SIGKILL kills the worker) */
  function startWorker(): Spawned {
    const uri = new URL(inject('mongodbUri'));
    uri.pathname = `/${env.dbName}`;
    const w = startProcess(process.execPath, ['--import', 'tsx', 'workers/qualification.ts'], {
      MONGODB_URI: uri.toString(),
      REDIS_URL: env.config.redisUrl,
      QUEUE_PREFIX: env.config.queuePrefix,
      DATA_DIR: env.config.dataDir,
      ADMIN_API_KEY: 'concurrency-admin-key-0123456789',
      LOG_LEVEL: 'info',
      WORKER_CONCURRENCY: '8',
      NODE_PATH: `${root}/node_modules`,
    });
    workers.push(w);
    return w;
  }

  beforeAll(async () => {
    sales = await env.keyFor('sales');
    const marketing = await env.keyFor('marketing');
    const put = await env
      .http()
      .put('/api/qualification')
      .set({ Authorization: `Bearer ${marketing}` })
      .send({
        threshold: 50,
        require: { budget: true, authority: true, need: true, timeline: true },
        agreedBy: { marketing: 'M', sales: 'S' },
      });
    expect(put.status).toBe(200);
    // the agreement's own re-evaluation finds no leads yet; drop its job so only ours run
    await getQueue('qualification-sweep').obliterate({ force: true });
    for (let i = 0; i < 3; i++) startWorker();
    await waitFor(async () => (await getQueue('qualification').getWorkersCount()) >= 3, {
      timeout: 60_000,
      what: 'three qualification worker processes',
    });
  });
  afterAll(async () => {
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  });

  it('when 20 batches race on 12 leads and a worker is SIGKILLed mid-batch, then each lead has exactly one request, one handoff job and one qualified event', async () => {
    const ids: string[] = [];
    for (let i = 0; i < LEADS; i++) {
      const email = `race${i}-${Date.now()}@example.com`;
      ids.push(String((await Lead.create({ email, emailKey: emailKey(email), score: 10 }))._id));
    }
    /** one qualifying batch: every lead's score rises past the threshold and its BANT is answered */
    const batch = (b: number) =>
      Promise.all(
        ids.map(async (id) => {
          await Lead.updateOne({ _id: id }, { $set: { score: 60 + b } });
          await enqueue('qualification', { leadId: id });
          const res = await env
            .http()
            .patch(`/api/leads/${id}`)
            .set({ Authorization: `Bearer ${sales}` })
            .send({ bant: allBant });
          expect(res.status).toBe(200);
        }),
      );
    const running = Promise.all(Array.from({ length: BATCHES }, (_, b) => batch(b)));
    // mid-batch: some leads already qualified, the batches still going
    await waitFor(async () => (await HandoffRequest.countDocuments()) >= 3, {
      timeout: 60_000,
      what: 'first requests',
    });
    const victim = workers[0]!;
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    await running;

    // every job was taken (those the killed worker held stay "active" until BullMQ's stall check)
    await waitFor(
      async () => {
        const c = await getQueue('qualification').getJobCounts('waiting', 'prioritized', 'delayed');
        return c.waiting === 0 && c.prioritized === 0 && c.delayed === 0;
      },
      { timeout: 120_000, what: 'the qualification queue to be taken' },
    );
    // afterwards: the reconciler (a minute later) and one more evaluation per lead heal any
    // lead a killed worker or a lost write left behind its request
    advanceClock(2 * 60_000);
    await reconcileQualification();
    for (const id of ids) await enqueue('qualification', { leadId: id });
    await waitFor(
      async () => (await Lead.countDocuments({ _id: { $in: ids }, status: 'qualified' })) === LEADS,
      {
        timeout: 60_000,
        what: 'every lead qualified',
      },
    );

    const requests = await HandoffRequest.find({}).lean();
    expect(requests.map((r) => r._id).sort()).toEqual(ids.map((id) => `${id}:1`).sort());
    const leads = await Lead.find({ _id: { $in: ids } }).lean();
    for (const l of leads) {
      expect(l.lifecycleStage).toBe('sql');
      expect((l.qualification as { requestId: string }).requestId).toBe(`${String(l._id)}:1`);
    }
    // the handoff job is enqueued right after the lead's status: the last lead's may still be on its way
    const wanted = ids.map((id) => handoffJobId(`${id}:1`)).sort();
    const handoffIds = async () =>
      (
        await getQueue('handoff').getJobs([
          'waiting',
          'active',
          'delayed',
          'prioritized',
          'completed',
          'failed',
        ])
      )
        .map((j) => j.id)
        .sort();
    await waitFor(async () => (await handoffIds()).length >= wanted.length, { what: 'every handoff job' });
    expect(await handoffIds()).toEqual(wanted);
    const qualifiedEvents = await LeadEvent.find(
      { leadId: { $in: ids }, type: 'qualified' },
      { leadId: 1 },
    ).lean();
    expect(qualifiedEvents.map((e) => String(e.leadId)).sort()).toEqual([...ids].sort());
  }, 240_000);
});
