import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { Account, Contact, Opportunity } from '../../src/modules/crm/index.js';
import { Handoff, HandoffClaim, reconcileHandoffs } from '../../src/modules/handoff/index.js';
import { enqueueBulk } from '../../src/queues/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { makeLead, qualify } from '../helpers/handoff.js';
import { startProcess, tsxBin, type Spawned } from '../helpers/processes.js';
import { startSmtpSink } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';
import { startWebhookWorker } from '../../workers/webhook.js';

const sink = await startSmtpSink();
const receiver = await startWebhookReceiver();
const log = createLogger('silent', 'test');
const LEADS = 6;
const TRIGGERS_PER_LEAD = 4;
const tag = Date.now().toString(36);

describe('handoff exactly once: concurrent triggers, three worker processes, one SIGKILLed mid-conversion', () => {
  const env = useTestEnv({ SMTP_URL: sink.url, WEBHOOK_ALLOW_PRIVATE: 'true' });
  const procs: Spawned[] = [];
  beforeAll(async () => {
    const hook = await env
      .http()
      .put('/api/webhooks/crm')
      .set({ Authorization: `Bearer ${ADMIN_KEY}` })
      .send({ url: receiver.url, events: ['handoff.created', 'lead.qualified'] });
    expect(hook.status, JSON.stringify(hook.body)).toBe(200);
    startWebhookWorker(env.rt);
    for (const id of ['hal', 'ida'])
      await env
        .http()
        .put(`/api/reps/${id}`)
        .set({ Authorization: `Bearer ${ADMIN_KEY}` })
        .send({ name: id, email: `${id}@sales.test` });
  });
  afterAll(async () => {
    for (const p of procs)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    await sink.close();
    await receiver.close();
  });

  function startWorker(file: string) {
    const uri = new URL(env.config.mongodbUri);
    uri.pathname = `/${env.dbName}`;
    const p = startProcess(tsxBin, [file], {
      MONGODB_URI: uri.toString(),
      REDIS_URL: env.config.redisUrl,
      QUEUE_PREFIX: env.config.queuePrefix,
      SMTP_URL: sink.url,
      PUBLIC_URL: env.config.publicUrl,
      DATA_DIR: env.config.dataDir,
      LOG_LEVEL: 'info',
      WORKER_CONCURRENCY: '8',
      WEBHOOK_ALLOW_PRIVATE: 'true',
    });
    procs.push(p);
    return p;
  }

  it('when every lead qualifies many times at once, then each gets one account, contact, opportunity and email', async () => {
    const crash = startWorker('test/fixtures/handoff-crash-worker.ts');
    const workers = [startWorker('workers/handoff.ts'), startWorker('workers/handoff.ts')];
    await crash.waitForOutput(/^ready$/m, 60_000);

    const leads = await Promise.all(
      Array.from({ length: LEADS }, (_, i) =>
        makeLead({ email: `buyer${i}-${Date.now()}@firm${i}-${tag}.example` }),
      ),
    );
    const requestIds = await Promise.all(leads.map((l) => qualify(l._id, { enqueue: false })));
    // every trigger at once: each lead's request several times over, to all three workers
    await enqueueBulk(
      'handoff',
      requestIds.flatMap((id) =>
        Array.from({ length: TRIGGERS_PER_LEAD }, (_, i) => ({
          payload: { requestId: id },
          opts: { jobId: `burst-${id.replace(':', '-')}-${i}` },
        })),
      ),
    );
    expect(requestIds.length * TRIGGERS_PER_LEAD).toBeGreaterThanOrEqual(20);

    await crash.waitForOutput(/paused in conversion/, 60_000);
    crash.child.kill('SIGKILL');
    expect((await crash.exited).signal).toBe('SIGKILL');

    // the maintenance reconcile picks up whatever only the killed worker had taken
    await waitFor(
      async () => {
        await reconcileHandoffs(env.rt, log, { olderThanMs: 0 });
        return (await Handoff.countDocuments({ notificationStatus: 'sent' })) === LEADS;
      },
      { timeout: 90_000, interval: 500, what: 'every handoff notified' },
    );
    await waitFor(() => sink.messages.length >= LEADS, { timeout: 30_000 });

    for (const [i, lead] of leads.entries()) {
      const h = (await Handoff.findById(requestIds[i]).lean())!;
      expect(await Account.countDocuments({ domain: `firm${i}-${tag}.example` })).toBe(1);
      expect(await Contact.countDocuments({ emailKey: lead.emailKey })).toBe(1);
      expect(await Opportunity.countDocuments({ leadId: lead._id })).toBe(1);
      expect(String((await Opportunity.findOne({ leadId: lead._id }).lean())!._id)).toBe(h.opportunityId);
      const mails = sink.messages.filter((m) => m.parsed.headers.get('x-leadflow-handoff') === requestIds[i]);
      expect(mails, `emails for ${requestIds[i]}`).toHaveLength(1);
      expect(mails[0]!.envelopeTo).toEqual([`${h.ownerId}@sales.test`]);
    }
    expect(sink.messages).toHaveLength(LEADS);
    expect(await Handoff.countDocuments()).toBe(LEADS);
    // one owner choice and one notification claim per handoff
    expect(await HandoffClaim.countDocuments({ _id: { $regex: '^notify:' } })).toBe(LEADS);
    for (const w of workers) expect(w.child.exitCode).toBeNull();
    // one handoff.created (and one lead.qualified) webhook per handoff
    const received = await waitFor(
      () => (receiver.received.length >= 2 * LEADS ? receiver.received : undefined),
      { timeout: 30_000, what: 'webhooks' },
    );
    const ids = received.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(
      requestIds.flatMap((id) => [`handoff.created:${id}`, `lead.qualified:${id}`]).sort(),
    );
  }, 240_000);
});
