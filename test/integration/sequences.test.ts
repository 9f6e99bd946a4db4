import { beforeAll, describe, expect, it } from 'vitest';
import { advanceClock, clock } from '../../src/lib/clock.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { Suppression, emailHash } from '../../src/modules/suppression/index.js';
import { recordEvent } from '../../src/modules/events/index.js';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { emailKey } from '../../src/modules/leads/normalize.js';
import { Enrollment, exitEnrollmentsForLead, reconcileSequences } from '../../src/modules/sequences/index.js';
import { getQueue } from '../../src/queues/index.js';
import { startNurtureWorker } from '../../workers/nurture.js';
import { deleteQueueKeys, useTestEnv } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('sequence engine', () => {
  const env = useTestEnv();
  let key: string;
  beforeAll(async () => {
    key = await env.keyFor('marketing');
    startNurtureWorker(env.rt);
  });

  let n = 0;
  async function newLead(extra: Record<string, unknown> = {}) {
    const email = `lead${++n}-${Date.now()}@example.com`;
    const lead = await Lead.create({ email, emailKey: emailKey(email), firstName: `L${n}`, ...extra });
    return String(lead._id);
  }
  async function putSequence(seqKey: string, def: Record<string, unknown>) {
    const res = await env
      .http()
      .put(`/api/sequences/${seqKey}`)
      .set('Authorization', `Bearer ${key}`)
      .send(def);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    return res.body as { key: string; version: number };
  }
  async function enroll(seqKey: string, leadId: string) {
    const res = await env
      .http()
      .post(`/api/sequences/${seqKey}/enroll`)
      .set('Authorization', `Bearer ${key}`)
      .send({ leadId });
    return res;
  }
  async function enrolled(seqKey: string, leadId: string) {
    const res = await enroll(seqKey, leadId);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  }
  const sendsOf = (enrollmentId: string) =>
    EmailSend.find({ enrollmentId }).sort({ createdAt: 1, _id: 1 }).lean();
  const waitForSends = (enrollmentId: string, count: number) =>
    waitFor(
      async () => {
        const s = await sendsOf(enrollmentId);
        return s.length >= count ? s : undefined;
      },
      { what: `${count} send(s) of ${enrollmentId}` },
    );
  const waitForState = (enrollmentId: string, state: string) =>
    waitFor(
      async () => {
        const e = await Enrollment.findById(enrollmentId).lean();
        return e?.state === state ? e : undefined;
      },
      { what: `enrollment ${enrollmentId} ${state}` },
    );
  /** moves the clock and runs the reconciler, as the scheduler would every minute */
  async function passTime(ms: number) {
    advanceClock(ms);
    await reconcileSequences(env.rt);
  }

  it('when a two-step sequence branches on a click, then each lead gets the right emails in order', async () => {
    await putSequence('branch', {
      name: 'Branch',
      steps: [
        { id: 'hello', wait: '0s', subject: 'Hi {{lead.firstName}}', html: '<p>Hello</p>' },
        {
          id: 'case-study',
          wait: '2d',
          subject: 'A case study',
          text: 'Read it',
          if: { notClicked: 'hello' },
        },
      ],
    });
    const clicker = await enrolled('branch', await newLead());
    const other = await enrolled('branch', await newLead());
    const [helloC] = await waitForSends(clicker, 1);
    const [helloO] = await waitForSends(other, 1);
    expect(helloC!.stepId).toBe('hello');
    expect(helloC!.content!.subject).toBe('Hi {{lead.firstName}}');
    // each recorded send was handed to the email queue under its own id
    expect(await getQueue('email').getJob(String(helloC!._id))).toBeTruthy();
    await EmailSend.updateOne(
      { _id: helloC!._id },
      { $set: { openedAt: clock.now(), clickedAt: clock.now() } },
    );

    await passTime(2 * DAY + 60_000);
    await waitForState(clicker, 'completed');
    await waitForState(other, 'completed');
    expect((await sendsOf(clicker)).map((s) => s.stepId)).toEqual(['hello']);
    const otherSends = await sendsOf(other);
    expect(otherSends.map((s) => s.stepId)).toEqual(['hello', 'case-study']);
    expect(otherSends[1]!.content).toMatchObject({ subject: 'A case study', text: 'Read it' });
    expect(String(otherSends[0]!._id)).toBe(String(helloO!._id));
    const clickerEnrollment = await Enrollment.findById(clicker).lean();
    expect(clickerEnrollment!.history.map((h) => h.action)).toEqual([
      'enrolled',
      'sent',
      'skipped',
      'completed',
    ]);
  });

  it('when a lead unsubscribes between steps, then no further email is recorded and the enrollment exits', async () => {
    await putSequence('unsub', {
      name: 'Unsub',
      steps: [
        { id: 'one', subject: 'One', text: '1' },
        { id: 'two', wait: '1d', subject: 'Two', text: '2' },
      ],
    });
    const viaFlag = await newLead();
    const viaSuppression = await newLead();
    const e1 = await enrolled('unsub', viaFlag);
    const e2 = await enrolled('unsub', viaSuppression);
    await waitForSends(e1, 1);
    await waitForSends(e2, 1);
    await Lead.updateOne({ _id: viaFlag }, { $set: { unsubscribed: true } });
    const lead2 = await Lead.findById(viaSuppression).lean();
    await Suppression.create({ emailHash: emailHash(lead2!.email), reason: 'bounce' });

    await passTime(DAY + 60_000);
    expect((await waitForState(e1, 'exited')).exitReason).toBe('unsubscribed');
    expect((await waitForState(e2, 'exited')).exitReason).toBe('suppressed');
    expect(await EmailSend.countDocuments({ enrollmentId: { $in: [e1, e2] } })).toBe(2);
    // and a suppressed lead cannot be enrolled again
    expect((await enroll('unsub', viaSuppression)).status).toBe(409);
  });

  it('when exitEnrollmentsForLead is called, then every active enrollment of the lead exits with that reason', async () => {
    await putSequence('exit-a', { name: 'A', steps: [{ id: 's', wait: '1d', subject: 'S', text: 's' }] });
    await putSequence('exit-b', { name: 'B', steps: [{ id: 's', wait: '1d', subject: 'S', text: 's' }] });
    const lead = await newLead();
    const a = await enrolled('exit-a', lead);
    const b = await enrolled('exit-b', lead);
    expect(await exitEnrollmentsForLead(lead, 'complaint')).toBe(2);
    for (const id of [a, b]) {
      const e = await Enrollment.findById(id).lean();
      expect(e).toMatchObject({ state: 'exited', exitReason: 'complaint', nextRunAt: null });
    }
    await passTime(DAY + 60_000);
    expect(await EmailSend.countDocuments({ enrollmentId: { $in: [a, b] } })).toBe(0);
  });

  it('when a step is due outside the send window, then it is deferred to the next allowed time and sent then', async () => {
    const now = clock.now();
    const tomorrow = new Date(now.getTime() + DAY);
    const isoWeekday = ((tomorrow.getUTCDay() + 6) % 7) + 1;
    await putSequence('window', {
      name: 'Window',
      steps: [{ id: 'only', subject: 'In the window', text: 'x' }],
      sendWindow: { days: [isoWeekday], from: '09:00', to: '10:00', timezone: 'UTC' },
    });
    const id = await enrolled('window', await newLead());
    const expected = new Date(
      Date.UTC(tomorrow.getUTCFullYear(), tomorrow.getUTCMonth(), tomorrow.getUTCDate(), 9, 0),
    );
    const deferred = await waitFor(async () => {
      const e = await Enrollment.findById(id).lean();
      return e?.history.some((h) => h.action === 'deferred') ? e : undefined;
    });
    expect(deferred.nextRunAt!.toISOString()).toBe(expected.toISOString());
    expect(await EmailSend.countDocuments({ enrollmentId: id })).toBe(0);

    // a reconcile before the window opens changes nothing
    await passTime(expected.getTime() - clock.now().getTime() - HOUR);
    expect(await EmailSend.countDocuments({ enrollmentId: id })).toBe(0);

    await passTime(HOUR + 60_000);
    const [send] = await waitForSends(id, 1);
    expect(send!.stepId).toBe('only');
    await waitForState(id, 'completed');
  });

  it('when Redis loses the queues, then the reconciler rebuilds the work and each step is recorded once', async () => {
    await putSequence('flush', {
      name: 'Flush',
      steps: [
        { id: 'first', subject: 'First', text: '1' },
        { id: 'second', wait: '1h', subject: 'Second', text: '2' },
      ],
    });
    const id = await enrolled('flush', await newLead());
    const [first] = await waitForSends(id, 1);
    await waitFor(async () => (await Enrollment.findById(id).lean())?.currentStep === 1);

    await deleteQueueKeys(env.config.redisUrl, env.config.queuePrefix);
    expect(await getQueue('email').getJob(String(first!._id))).toBeUndefined();

    advanceClock(HOUR + 60_000);
    // the reconciler may run several times, and concurrently; each step still has one send
    await Promise.all([reconcileSequences(env.rt), reconcileSequences(env.rt)]);
    await reconcileSequences(env.rt);
    await waitForState(id, 'completed');
    const sends = await sendsOf(id);
    expect(sends.map((s) => s.stepId)).toEqual(['first', 'second']);
    // the pending first send got its email job back
    expect(await getQueue('email').getJob(String(first!._id))).toBeTruthy();
    await reconcileSequences(env.rt);
    expect(await EmailSend.countDocuments({ enrollmentId: id })).toBe(2);
  });

  it('when a sequence changes while a lead is in it, then the lead stays on the version it started with', async () => {
    const v1 = await putSequence('versioned', {
      name: 'V',
      steps: [
        { id: 'a', subject: 'A v1', text: 'a' },
        { id: 'b', wait: '1d', subject: 'B v1', text: 'b' },
      ],
    });
    expect(v1.version).toBe(1);
    const early = await enrolled('versioned', await newLead());
    await waitForSends(early, 1);
    const v2 = await putSequence('versioned', {
      name: 'V',
      steps: [
        { id: 'a', subject: 'A v2', text: 'a' },
        { id: 'b', wait: '1d', subject: 'B v2', text: 'b' },
      ],
    });
    expect(v2).toEqual({ key: 'versioned', version: 2 });
    const late = await enrolled('versioned', await newLead());
    await waitForSends(late, 1);
    await passTime(DAY + 60_000);
    await waitForState(early, 'completed');
    await waitForState(late, 'completed');
    expect((await sendsOf(early)).map((s) => s.content!.subject)).toEqual(['A v1', 'B v1']);
    expect((await sendsOf(late)).map((s) => s.content!.subject)).toEqual(['A v2', 'B v2']);
    expect((await Enrollment.findById(early).lean())!.version).toBe(1);

    const auth = { Authorization: `Bearer ${key}` };
    expect((await env.http().get('/api/sequences/versioned').set(auth)).body).toMatchObject({ version: 2 });
    const old = await env.http().get('/api/sequences/versioned?version=1').set(auth);
    expect(old.body.steps[0].subject).toBe('A v1');
  });

  it('when a lead is enrolled many times at once, then exactly one enrollment is active', async () => {
    await putSequence('once', { name: 'Once', steps: [{ id: 's', wait: '1d', subject: 'S', text: 's' }] });
    const lead = await newLead();
    const results = await Promise.all(Array.from({ length: 8 }, () => enroll('once', lead)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(7);
    expect(await Enrollment.countDocuments({ leadId: lead, sequenceKey: 'once' })).toBe(1);
  });

  it('when the re-enrollment policy is never, always or after a duration, then re-entry follows it', async () => {
    const step = [{ id: 's', subject: 'S', text: 's' }];
    await putSequence('re-never', { name: 'N', steps: step, reenroll: 'never' });
    await putSequence('re-always', { name: 'A', steps: step, reenroll: 'always' });
    await putSequence('re-after', { name: 'D', steps: step, reenroll: 'after:2d' });
    const lead = await newLead();
    const firsts = await Promise.all(['re-never', 're-always', 're-after'].map((k) => enrolled(k, lead)));
    await Promise.all(firsts.map((id) => waitForState(id, 'completed')));

    const never = await enroll('re-never', lead);
    expect(never.status).toBe(409);
    expect(never.body.error.message).toMatch(/re-enrollment policy/);
    expect((await enroll('re-always', lead)).status).toBe(201);
    expect((await enroll('re-after', lead)).status).toBe(409);
    advanceClock(2 * DAY + 1000);
    expect((await enroll('re-after', lead)).status).toBe(201);
    expect((await enroll('re-never', lead)).status).toBe(409);
  });

  it('when a lead reaches an exit goal, then its enrollment exits before the next step', async () => {
    await putSequence('goals', {
      name: 'Goals',
      exitOn: ['qualified', 'replied'],
      steps: [
        { id: 'one', subject: 'One', text: '1' },
        { id: 'two', wait: '1d', subject: 'Two', text: '2' },
      ],
    });
    const qualified = await newLead();
    const replied = await newLead();
    const e1 = await enrolled('goals', qualified);
    const e2 = await enrolled('goals', replied);
    await waitForSends(e1, 1);
    await waitForSends(e2, 1);
    await Lead.updateOne({ _id: qualified }, { $set: { status: 'qualified' } });
    await recordEvent({ leadId: replied, type: 'reply', occurredAt: clock.now() });
    await passTime(DAY + 60_000);
    expect((await waitForState(e1, 'exited')).exitReason).toBe('qualified');
    expect((await waitForState(e2, 'exited')).exitReason).toBe('replied');
    expect(await EmailSend.countDocuments({ enrollmentId: { $in: [e1, e2] } })).toBe(2);
  });

  it('when a step has A/B variants, then both are used and each send records its variant', async () => {
    await putSequence('ab', {
      name: 'AB',
      steps: [
        {
          id: 'pitch',
          text: 'body',
          variants: [
            { id: 'short', subject: 'Short' },
            { id: 'long', subject: 'A much longer subject' },
          ],
        },
      ],
    });
    const leads = await Promise.all(Array.from({ length: 16 }, () => newLead()));
    const ids = await Promise.all(leads.map((l) => enrolled('ab', l)));
    const sends = await waitFor(async () => {
      const s = await EmailSend.find({ sequenceKey: 'ab' }).lean();
      return s.length === ids.length ? s : undefined;
    });
    const by = (v: string) => sends.filter((s) => s.variant === v);
    // P(all 16 on one side) = 2^-15
    expect(by('short').length).toBeGreaterThan(0);
    expect(by('long').length).toBeGreaterThan(0);
    expect(by('short').length + by('long').length).toBe(16);
    expect(by('short').every((s) => s.content!.subject === 'Short')).toBe(true);
    expect(by('long').every((s) => s.content!.subject === 'A much longer subject')).toBe(true);
  });

  it('when two leads in one sequence are merged, then the survivor keeps one enrollment and gets each step once', async () => {
    await putSequence('merge', {
      name: 'Merge',
      steps: [
        { id: 'one', subject: 'One', text: '1' },
        { id: 'two', wait: '1d', subject: 'Two', text: '2' },
      ],
    });
    const survivor = await newLead();
    const other = await newLead();
    const kept = await enrolled('merge', survivor);
    const moved = await enrolled('merge', other);
    await waitForSends(kept, 1);
    await waitForSends(moved, 1);
    const merge = await env
      .http()
      .post(`/api/leads/${survivor}/merge`)
      .set('Authorization', `Bearer ${key}`)
      .send({ ids: [other] });
    expect(merge.status, JSON.stringify(merge.body)).toBe(200);
    expect(String((await Enrollment.findById(moved).lean())!.leadId)).toBe(survivor);

    await passTime(DAY + 60_000);
    expect((await waitForState(moved, 'exited')).exitReason).toBe('merged');
    await waitForState(kept, 'completed');
    expect((await sendsOf(kept)).map((s) => s.stepId)).toEqual(['one', 'two']);
    expect((await sendsOf(moved)).map((s) => s.stepId)).toEqual(['one']);
  });
});
