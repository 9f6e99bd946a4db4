import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { maintenanceTasks } from '../../src/modules/maintenance/maintenance.jobs.js';
import {
  deliverWebhook,
  emitWebhookEvent,
  purgeWebhookHistory,
  reconcileWebhookDeliveries,
  Webhook,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEvent,
} from '../../src/modules/webhooks/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';
import { waitFor } from '../helpers/wait.js';
import { startWebhookWorker } from '../../workers/webhook.js';

const env = useTestEnv({ WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '1s,1s,1s' });
const log = createLogger('silent');
const admin = `Bearer ${ADMIN_KEY}`;
const leadId = '64b7f0c2a1b2c3d4e5f60718';

const put = (id: string, body: unknown) =>
  env
    .http()
    .put(`/api/webhooks/${id}`)
    .set('Authorization', admin)
    .send(body as object);
const deliveriesOf = (id: string, query = '') =>
  env.http().get(`/api/webhooks/${id}/deliveries${query}`).set('Authorization', admin);
const deliveryDone = (id: string) => async () => {
  const d = await WebhookDelivery.findById(id).lean();
  return d && d.status !== 'pending' ? d : undefined;
};

type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
const receivers: Receiver[] = [];
async function receiver(answer?: (n: number) => number) {
  const r = await startWebhookReceiver({ answer });
  receivers.push(r);
  return r;
}

beforeAll(() => {
  startWebhookWorker(env.rt);
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

describe('webhook delivery', () => {
  it('when a receiver fails twice and then answers 200, then it gets exactly one successful, verifiable delivery and three attempts are listed', async () => {
    const r = await receiver((n) => (n === 1 ? 500 : n === 2 ? 503 : 200));
    const created = await put('crm-sync', { url: r.url, events: ['handoff.created'] });
    expect(created.status).toBe(200);
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const secret = created.body.secret as string;

    const data = { id: 'h1', leadId, ownerId: null, status: 'pending' };
    const out = await emitWebhookEvent({ type: 'handoff.created', eventId: 'handoff.created:t1', data });
    expect(out).toEqual({ eventId: 'handoff.created:t1', created: true, deliveries: 1 });
    const done = await waitFor(deliveryDone('handoff.created:t1:crm-sync'), {
      what: 'the delivery to finish',
    });
    expect(done.status).toBe('succeeded');

    expect(r.received.map((x) => x.status)).toEqual([500, 503, 200]);
    expect(r.received.filter((x) => x.status === 200)).toHaveLength(1);
    const verifier = new StandardWebhook(secret);
    for (const req of r.received) {
      // the specification's own library verifies every attempt's signature (and its timestamp)
      expect(verifier.verify(req.body, req.headers)).toEqual({
        type: 'handoff.created',
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        data,
      });
      expect(req.headers['content-type']).toBe('application/json');
    }
    expect(new Set(r.received.map((x) => x.headers['webhook-id']))).toEqual(new Set(['handoff.created:t1']));
    // a tampered body does not verify
    expect(() => verifier.verify(r.received[2]!.body.replace('h1', 'h2'), r.received[2]!.headers)).toThrow();

    const listed = await deliveriesOf('crm-sync');
    expect(listed.status).toBe(200);
    expect(listed.body.nextCursor).toBeNull();
    expect(listed.body.items).toHaveLength(1);
    const item = listed.body.items[0];
    expect(item).toMatchObject({
      id: 'handoff.created:t1:crm-sync',
      webhookId: 'crm-sync',
      eventId: 'handoff.created:t1',
      type: 'handoff.created',
      status: 'succeeded',
      attemptCount: 3,
      lastResponseCode: 200,
    });
    expect(
      item.attempts.map((a: { status: string; responseCode: number; number: number }) => [
        a.number,
        a.status,
        a.responseCode,
      ]),
    ).toEqual([
      [1, 'failed', 500],
      [2, 'failed', 503],
      [3, 'succeeded', 200],
    ]);
    for (const a of item.attempts) {
      expect(Date.parse(a.at)).not.toBeNaN();
      expect(a.durationMs).toBeGreaterThanOrEqual(0);
      expect(a.trigger).toBe('schedule');
    }
    expect(item.attempts[0].error).toBe('answered 500');
  });

  it('when one event is emitted many times at once, then it is recorded once and each subscriber gets one delivery', async () => {
    const a = await receiver();
    const b = await receiver();
    const other = await receiver();
    expect((await put('idem-a', { url: a.url, events: ['lead.qualified', 'handoff.accepted'] })).status).toBe(
      200,
    );
    expect((await put('idem-b', { url: b.url, events: ['lead.qualified'], active: true })).status).toBe(200);
    expect(
      (await put('idem-off', { url: other.url, events: ['lead.qualified'], active: false })).status,
    ).toBe(200);
    expect((await put('idem-other', { url: other.url, events: ['handoff.rejected'] })).status).toBe(200);

    const emit = () =>
      emitWebhookEvent({ type: 'lead.qualified', eventId: 'lead.qualified:idem', data: { leadId } });
    const outs = await Promise.all(Array.from({ length: 8 }, emit));
    expect(outs.filter((o) => o.created)).toHaveLength(1);
    expect(outs.every((o) => o.deliveries === 2)).toBe(true);
    await waitFor(deliveryDone('lead.qualified:idem:idem-a'));
    await waitFor(deliveryDone('lead.qualified:idem:idem-b'));

    // a receiver added later is not offered the earlier event by a repeat emit
    const late = await receiver();
    expect((await put('idem-late', { url: late.url, events: ['lead.qualified'] })).status).toBe(200);
    expect(await emit()).toEqual({ eventId: 'lead.qualified:idem', created: false, deliveries: 2 });

    expect(await WebhookEvent.countDocuments({ _id: 'lead.qualified:idem' })).toBe(1);
    expect(await WebhookDelivery.countDocuments({ eventId: 'lead.qualified:idem' })).toBe(2);
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(1);
    expect(other.received).toHaveLength(0);
    expect(late.received).toHaveLength(0);
    expect(JSON.parse(a.received[0]!.body)).toMatchObject({ type: 'lead.qualified', data: { leadId } });
  });

  it('when every attempt fails, then the delivery fails after the schedule, and a redelivery sends it once more with the same webhook-id', async () => {
    const r = await receiver(() => 500);
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const created = await put('always-down', { url: r.url, events: ['opportunity.stage_changed'], secret });
    expect(created.status).toBe(200);
    expect(created.body.secret).toBeUndefined(); // a given secret is not echoed

    await emitWebhookEvent({
      type: 'opportunity.stage_changed',
      eventId: 'opp:1:proposal',
      data: { id: 'o1', leadId, stage: 'proposal' },
    });
    const id = 'opp:1:proposal:always-down';
    const failed = await waitFor(deliveryDone(id), { what: 'the last attempt' });
    expect(failed).toMatchObject({ status: 'failed', attemptCount: 4, lastResponseCode: 500 });
    expect(r.received).toHaveLength(4); // three delays: four attempts

    const path = `/api/webhooks/always-down/deliveries/${encodeURIComponent(id)}/redeliver`;
    r.setAnswer(() => 204);
    const again = await env.http().post(path).set('Authorization', admin);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ id, status: 'pending' });
    const ok = await waitFor(deliveryDone(id), { what: 'the redelivery' });
    expect(ok).toMatchObject({ status: 'succeeded', attemptCount: 5, lastResponseCode: 204 });
    expect(r.received).toHaveLength(5);
    expect(new Set(r.received.map((x) => x.headers['webhook-id'])).size).toBe(1);
    expect(new StandardWebhook(secret).verify(r.received[4]!.body, r.received[4]!.headers)).toMatchObject({
      data: { stage: 'proposal' },
    });
    const listed = await deliveriesOf('always-down', '?status=succeeded');
    const attempts = listed.body.items[0].attempts as { trigger: string; status: string }[];
    expect(attempts.map((a) => a.trigger)).toEqual([
      'schedule',
      'schedule',
      'schedule',
      'schedule',
      'redelivery',
    ]);
    expect((await deliveriesOf('always-down', '?status=failed')).body.items).toEqual([]);

    // nothing to redeliver: unknown delivery, another webhook's delivery
    expect((await env.http().post(path.replace('proposal', 'nope')).set('Authorization', admin)).status).toBe(
      404,
    );
    expect(
      (await env.http().post(path.replace('/always-down/', '/crm-sync/')).set('Authorization', admin)).status,
    ).toBe(404);
  });

  it('when a pending delivery is redelivered, then it is a conflict', async () => {
    const r = await receiver();
    await put('slow-start', { url: r.url, events: ['handoff.rejected'] });
    // recorded as if its first attempt were scheduled an hour from now
    await WebhookDelivery.create({
      _id: 'ev-pending:slow-start',
      eventId: 'ev-pending',
      webhookId: 'slow-start',
      type: 'handoff.rejected',
      nextAttemptAt: new Date(Date.now() + 3600_000),
    });
    const res = await env
      .http()
      .post('/api/webhooks/slow-start/deliveries/ev-pending:slow-start/redeliver')
      .set('Authorization', admin);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
  });

  it('when a delivery job was lost, then the reconcile task re-enqueues it and it is delivered', async () => {
    const r = await receiver();
    await put('lost-job', { url: r.url, events: ['handoff.accepted'] });
    // the event and delivery were written, then the enqueue was lost with Redis
    await WebhookEvent.create({
      _id: 'handoff.accepted:lost',
      type: 'handoff.accepted',
      data: { id: 'h9', leadId },
      occurredAt: new Date(),
      webhookIds: ['lost-job'],
    });
    await WebhookDelivery.create({
      _id: 'handoff.accepted:lost:lost-job',
      eventId: 'handoff.accepted:lost',
      webhookId: 'lost-job',
      type: 'handoff.accepted',
      nextAttemptAt: new Date(Date.now() - 5 * 60_000),
    });
    const out = (await maintenanceTasks.reconcile!(env.rt, log)) as { webhooks: { requeued: number } };
    expect(out.webhooks.requeued).toBe(1);
    const d = await waitFor(deliveryDone('handoff.accepted:lost:lost-job'));
    expect(d.status).toBe('succeeded');
    expect(r.received).toHaveLength(1);
    expect(await reconcileWebhookDeliveries(env.rt)).toEqual({ requeued: 0 });
  });

  it('when a worker stopped during an attempt, then that attempt is recorded as interrupted and the next one is made', async () => {
    const r = await receiver();
    await Webhook.create({
      _id: 'crashed',
      url: r.url,
      events: ['handoff.created'],
      secret: `whsec_${Buffer.alloc(24, 1).toString('base64')}`,
    });
    await WebhookEvent.create({
      _id: 'ev-crash',
      type: 'handoff.created',
      data: { leadId },
      occurredAt: new Date(),
      webhookIds: ['crashed'],
    });
    await WebhookDelivery.create({
      _id: 'ev-crash:crashed',
      eventId: 'ev-crash',
      webhookId: 'crashed',
      type: 'handoff.created',
      nextAttemptAt: new Date(),
    });
    // attempt 1 was claimed ten minutes ago by a worker that never came back
    await WebhookAttempt.create({
      _id: 'ev-crash:crashed:1',
      deliveryId: 'ev-crash:crashed',
      number: 1,
      startedAt: new Date(Date.now() - 600_000),
    });

    expect(await deliverWebhook(env.rt, 'ev-crash:crashed', log)).toEqual({ result: 'retrying' });
    const first = await WebhookAttempt.findById('ev-crash:crashed:1').lean();
    expect(first).toMatchObject({ status: 'interrupted', error: expect.stringContaining('outcome unknown') });
    const d = await waitFor(deliveryDone('ev-crash:crashed'));
    expect(d).toMatchObject({ status: 'succeeded', attemptCount: 2 });
    expect(r.received).toHaveLength(1);
  });

  it('when a webhook is deleted or deactivated, then its pending deliveries are cancelled', async () => {
    const r = await receiver();
    await put('gone', { url: r.url, events: ['handoff.created'] });
    await WebhookEvent.create({
      _id: 'ev-gone',
      type: 'handoff.created',
      data: {},
      occurredAt: new Date(),
      webhookIds: ['gone'],
    });
    await WebhookDelivery.create({
      _id: 'ev-gone:gone',
      eventId: 'ev-gone',
      webhookId: 'gone',
      type: 'handoff.created',
      nextAttemptAt: new Date(),
    });
    expect((await env.http().delete('/api/webhooks/gone').set('Authorization', admin)).status).toBe(204);
    expect(await deliverWebhook(env.rt, 'ev-gone:gone', log)).toEqual({ result: 'cancelled' });
    expect(await WebhookDelivery.findById('ev-gone:gone').lean()).toMatchObject({
      status: 'cancelled',
      lastError: 'the webhook was deleted',
    });
    expect(r.received).toHaveLength(0);
  });

  it('when the cleanup runs a month later, then finished deliveries, their attempts and events are purged and pending ones kept', async () => {
    const finished = await WebhookDelivery.countDocuments({ status: { $ne: 'pending' } });
    expect(finished).toBeGreaterThan(0);
    const pending = await WebhookDelivery.find({ status: 'pending' }, { _id: 1 }).lean();
    const out = await purgeWebhookHistory(new Date(Date.now() + 31 * 86_400_000));
    expect(out.deliveries).toBe(finished);
    expect(await WebhookDelivery.countDocuments({ status: { $ne: 'pending' } })).toBe(0);
    expect((await WebhookDelivery.find({}, { _id: 1 }).lean()).map((d) => d._id).sort()).toEqual(
      pending.map((d) => d._id).sort(),
    );
    expect(await WebhookAttempt.countDocuments({ deliveryId: { $nin: pending.map((d) => d._id) } })).toBe(0);
    expect(await WebhookEvent.countDocuments()).toBe(0);
  });
});
