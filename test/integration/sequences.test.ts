import { beforeAll, describe, expect, it } from 'vitest';
import { advanceClock, clock } from '../../src/lib/clock.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { recordEvent } from '../../src/modules/events/index.js';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { Enrollment, exitEnrollmentsForLead, reconcileSequences } from '../../src/modules/sequences/index.js';
import { startNurtureWorker } from '../../workers/nurture.js';
import { useTestEnv } from '../helpers/env.js';
import {
  enroll as enrollVia,
  enrolled as enrolledVia,
  makeLeadId,
  putSequence as put,
} from '../helpers/factories.js';
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

  const auth = () => ({ Authorization: `Bearer ${key}` });
  const putSequence = (seqKey: string, def: Record<string, unknown>) => put(env, auth(), seqKey, def);
  const enroll = (seqKey: string, leadId: string) => enrollVia(env, auth(), seqKey, leadId);
  const enrolled = (seqKey: string, leadId: string) => enrolledVia(env, auth(), seqKey, leadId);
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

  it('when exitEnrollmentsForLead is called, then every active enrollment of the lead exits with that reason', async () => {
    await putSequence('exit-a', { name: 'A', steps: [{ id: 's', wait: '1d', subject: 'S', text: 's' }] });
    await putSequence('exit-b', { name: 'B', steps: [{ id: 's', wait: '1d', subject: 'S', text: 's' }] });
    const lead = await makeLeadId();
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
    const id = await enrolled('window', await makeLeadId());
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

  it('when a sequence changes while a lead is in it, then the lead stays on the version it started with', async () => {
    const v1 = await putSequence('versioned', {
      name: 'V',
      steps: [
        { id: 'a', subject: 'A v1', text: 'a' },
        { id: 'b', wait: '1d', subject: 'B v1', text: 'b' },
      ],
    });
    expect(v1.version).toBe(1);
    const early = await enrolled('versioned', await makeLeadId());
    await waitForSends(early, 1);
    const v2 = await putSequence('versioned', {
      name: 'V',
      steps: [
        { id: 'a', subject: 'A v2', text: 'a' },
        { id: 'b', wait: '1d', subject: 'B v2', text: 'b' },
      ],
    });
    expect(v2).toEqual({ key: 'versioned', version: 2 });
    const late = await enrolled('versioned', await makeLeadId());
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
    const lead = await makeLeadId();
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
    const lead = await makeLeadId();
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
    const qualified = await makeLeadId();
    const replied = await makeLeadId();
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

  it('when two leads in one sequence are merged, then the survivor keeps one enrollment and gets each step once', async () => {
    await putSequence('merge', {
      name: 'Merge',
      steps: [
        { id: 'one', subject: 'One', text: '1' },
        { id: 'two', wait: '1d', subject: 'Two', text: '2' },
      ],
    });
    const survivor = await makeLeadId();
    const other = await makeLeadId();
    const kept = await enrolled('merge', survivor);
    const moved = await enrolled('merge', other);
    await waitForSends(kept, 1);
    await waitForSends(moved, 1);
    // the first step is done (send recorded, enrollment moved on, its next run scheduled) before
    // the merge and the clock move: a step still running while the clock jumps a day schedules its
    // next run a day after the jump
    for (const id of [kept, moved])
      await waitFor(async () => (await Enrollment.findById(id).lean())?.currentStep === 1, {
        what: `enrollment ${id} past its first step`,
      });
    const merge = await env
      .http()
      .post(`/api/leads/${survivor}/merge`)
      .set('Authorization', `Bearer ${key}`)
      .send({ ids: [other] });
    expect(merge.status, JSON.stringify(merge.body)).toBe(200);
    expect(String((await Enrollment.findById(moved).lean())!.leadId)).toBe(survivor);

    await passTime(DAY + 60_000);
    // the scheduler reconciles every minute: so does this wait, until the moved enrollment exits
    const exited = await waitFor(
      async () => {
        const e = await Enrollment.findById(moved).lean();
        if (e?.state === 'exited') return e;
        await reconcileSequences(env.rt);
        return undefined;
      },
      { interval: 1000, what: `enrollment ${moved} exited` },
    );
    expect(exited.exitReason).toBe('merged');
    await waitForState(kept, 'completed');
    expect((await sendsOf(kept)).map((s) => s.stepId)).toEqual(['one', 'two']);
    expect((await sendsOf(moved)).map((s) => s.stepId)).toEqual(['one']);
  });
});
