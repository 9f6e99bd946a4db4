import { spawn, type ChildProcess } from 'node:child_process';
import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advanceClock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/lib/logger.js';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { PendingCapture } from '../../src/modules/leads/pending-capture.model.js';
import { maintenanceTasks } from '../../src/modules/maintenance/maintenance.jobs.js';
import { Enrollment } from '../../src/modules/sequences/index.js';
import { startEmailWorker } from '../../workers/email.js';
import { startLeadCapturedWorker } from '../../workers/lead-captured.js';
import { startNurtureWorker } from '../../workers/nurture.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { freePort, listening } from '../helpers/processes.js';
import { startSmtpSink } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

// This file freezes and kills its Redis, so it runs a private one rather than the shared server.
const redisPort = await freePort();
const startRedis = () =>
  spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
const stop = (p: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
let redis = startRedis();
await waitFor(() => listening(redisPort), { what: 'private redis' });
afterAll(() => stop(redis));

const sink = await startSmtpSink();
const auth = { Authorization: `Bearer ${ADMIN_KEY}` };

describe('no lead left behind: the reconciler enqueues a capture whose job was lost', () => {
  const env = useTestEnv({ REDIS_URL: `redis://127.0.0.1:${redisPort}`, SMTP_URL: sink.url });
  let captured: Worker;
  beforeAll(async () => {
    captured = startLeadCapturedWorker(env.rt);
    startNurtureWorker(env.rt);
    startEmailWorker(env.rt);
    const seq = await env
      .http()
      .put('/api/sequences/welcome')
      .set(auth)
      .send({
        name: 'Welcome',
        steps: [{ id: 'hello', wait: '0s', subject: 'Welcome aboard', text: 'Hello!' }],
      });
    expect(seq.status, JSON.stringify(seq.body)).toBe(200);
    const form = await env
      .http()
      .put('/api/forms/signup')
      .set(auth)
      .send({ name: 'Signup', sequence: 'welcome' });
    expect(form.status, JSON.stringify(form.body)).toBe(200);
    return () => sink.close();
  });
  const submit = (email: string) =>
    env.http().post('/f/signup').set('Accept', 'application/json').send({ email });
  const mailTo = (email: string) => sink.messages.filter((m) => m.envelopeTo.includes(email));

  it('when a capture is announced normally, then its lead is nurtured and nothing stays pending', async () => {
    const res = await submit('normal@example.com');
    expect(res.status).toBe(201);
    await waitFor(() => mailTo('normal@example.com').length === 1, { what: 'the welcome email' });
    await waitFor(async () => (await PendingCapture.countDocuments({ _id: res.body.leadId })) === 0, {
      what: 'the pending marker removed by the lead-captured job',
    });
  });

  it('when Redis fails after the lead is written, then the answer is 503, and the reconciler later enrolls and mails the lead', async () => {
    const email = 'lost-job@example.com';
    // no lead-captured worker until the job is surely gone (ioredis may resend an unanswered command)
    await captured.close();
    // frozen, Redis still looks connected: the request passes the queue check, writes the lead,
    // and its enqueue times out
    redis.kill('SIGSTOP');
    const res = await submit(email);
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    expect(res.body.error.code).toBe('unavailable');
    expect(res.headers['retry-after']).toBeDefined();
    // the commands it sent die with that Redis: the job is really lost
    await stop(redis);
    redis = startRedis();
    await waitFor(() => listening(redisPort), { what: 'redis back' });
    await waitFor(() => env.rt.redis.status === 'ready', { timeout: 20_000, what: 'queue connection back' });
    const admin = new Redis(`redis://127.0.0.1:${redisPort}`);
    await admin.flushall();
    admin.disconnect();
    captured = startLeadCapturedWorker(env.rt);

    const lead = await Lead.findOne({ emailKey: email }).lean();
    expect(lead).not.toBeNull();
    expect(await PendingCapture.exists({ _id: String(lead!._id) })).not.toBeNull();
    expect(await Enrollment.countDocuments({ leadId: lead!._id })).toBe(0);

    const log = createLogger('silent', 'test');
    // within the grace period a capture may still be on its way: left alone
    expect(
      (await maintenanceTasks.reconcile!(env.rt, log)) as { captures: { captures: number } },
    ).toMatchObject({
      captures: { captures: 0 },
    });
    advanceClock(2 * 60_000);
    expect(await maintenanceTasks.reconcile!(env.rt, log)).toMatchObject({ captures: { captures: 1 } });

    const [mail] = await waitFor(() => (mailTo(email).length ? mailTo(email) : undefined), {
      timeout: 20_000,
      what: 'the welcome email after reconcile',
    });
    expect(mail!.parsed.subject).toBe('Welcome aboard');
    expect(await Enrollment.countDocuments({ leadId: lead!._id, sequenceKey: 'welcome' })).toBe(1);
    await waitFor(async () => (await PendingCapture.countDocuments({ _id: String(lead!._id) })) === 0, {
      what: 'the marker removed',
    });
    // a second pass finds nothing more to do, and the client's retry lands on the same lead
    expect(await maintenanceTasks.reconcile!(env.rt, log)).toMatchObject({ captures: { captures: 0 } });
    const retry = await submit(email);
    expect(retry.status).toBe(200);
    expect(retry.body.leadId).toBe(String(lead!._id));
  });
});
