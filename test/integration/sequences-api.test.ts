import { beforeAll, describe, expect, it } from 'vitest';
import { advanceClock } from '../../src/lib/clock.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { Enrollment } from '../../src/modules/sequences/index.js';
import { enqueue, getQueue } from '../../src/queues/index.js';
import { startLeadCapturedWorker } from '../../workers/lead-captured.js';
import { startMaintenanceWorker } from '../../workers/maintenance.js';
import { startNurtureWorker } from '../../workers/nurture.js';
import { useTestEnv } from '../helpers/env.js';
import { makeLeadId } from '../helpers/factories.js';
import { waitFor } from '../helpers/wait.js';

const valid = {
  name: 'Welcome',
  enroll: { formIds: ['contact-us'], sources: ['Trade show'] },
  steps: [
    { id: 'hello', wait: '0s', subject: 'Hi {{lead.firstName}}', template: 'welcome' },
    {
      id: 'case-study',
      wait: '2d',
      subject: 'Case',
      html: '<p>{{lead.company}}</p>',
      if: { notClicked: 'hello' },
    },
  ],
  exitOn: ['qualified', 'converted', 'unsubscribed', 'replied'],
  sendWindow: { days: [1, 2, 3, 4, 5], from: '09:00', to: '17:00', timezone: 'lead' },
  reenroll: 'never',
};

describe('sequences API', () => {
  const env = useTestEnv();
  let marketing: string;
  let sales: string;
  beforeAll(async () => {
    marketing = await env.keyFor('marketing');
    sales = await env.keyFor('sales');
    startNurtureWorker(env.rt);
    startLeadCapturedWorker(env.rt);
    startMaintenanceWorker(env.rt);
  });
  const as = (k: string) => ({ Authorization: `Bearer ${k}` });

  it('when the API.md example is PUT, then it is stored as version 1 and read back whole', async () => {
    const res = await env.http().put('/api/sequences/welcome').set(as(marketing)).send(valid);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ key: 'welcome', version: 1 });
    const got = await env.http().get('/api/sequences/welcome').set(as(sales));
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ key: 'welcome', version: 1, ...valid });
    const list = await env.http().get('/api/sequences').set(as(sales));
    expect(list.body.items.map((s: { key: string }) => s.key)).toContain('welcome');
    expect(list.body.nextCursor).toBeNull();
  });

  it.each([
    ['steps.0.if.notClicked', { steps: [valid.steps[1], valid.steps[0]] }],
    ['steps.1.id', { steps: [valid.steps[0], valid.steps[0]] }],
    ['steps.0.wait', { steps: [{ ...valid.steps[0], wait: '2 days' }] }],
    ['steps.0.template', { steps: [{ id: 'x', subject: 'S' }] }],
    ['steps.0.subject', { steps: [{ id: 'x', text: 'b' }] }],
    ['steps.0.subject', { steps: [{ id: 'x', text: 'b', subject: { $gt: '' } }] }],
    ['steps.0.template', { steps: [{ id: 'x', subject: 'S', template: '../../etc/passwd' }] }],
    ['exitOn.0', { exitOn: ['bored'] }],
    ['sendWindow.days.0', { sendWindow: { ...valid.sendWindow, days: [0] } }],
    ['sendWindow.from', { sendWindow: { ...valid.sendWindow, from: '9am' } }],
    ['sendWindow.timezone', { sendWindow: { ...valid.sendWindow, timezone: 'Mars/Base' } }],
    ['reenroll', { reenroll: 'sometimes' }],
    [
      'steps.0.variants',
      { steps: [{ id: 'x', subject: 'S', text: 't', variants: [{ id: 'a' }, { id: 'a' }] }] },
    ],
    ['name', { name: '' }],
    ['steps', { steps: [] }],
  ])(
    'when a definition is bad at %s, then 400 validation_failed names it and nothing is stored',
    async (path, patch) => {
      const res = await env
        .http()
        .put('/api/sequences/bad')
        .set(as(marketing))
        .send({ ...valid, ...patch });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
      expect((await env.http().get('/api/sequences/bad').set(as(marketing))).status).toBe(404);
    },
  );

  it('when the key is not a plain name, then 400; when unknown, then 404', async () => {
    expect((await env.http().put('/api/sequences/a:b').set(as(marketing)).send(valid)).status).toBe(400);
    expect((await env.http().get('/api/sequences/nope').set(as(marketing))).status).toBe(404);
    expect((await env.http().get('/api/sequences/nope/stats').set(as(marketing))).status).toBe(404);
    expect(
      (
        await env
          .http()
          .post('/api/sequences/nope/enroll')
          .set(as(marketing))
          .send({ leadId: await makeLeadId() })
      ).status,
    ).toBe(404);
  });

  it('when sales writes or enrolls, then 403; when enroll names no valid lead, then 400 or 404', async () => {
    expect((await env.http().put('/api/sequences/welcome').set(as(sales)).send(valid)).status).toBe(403);
    const lead = await makeLeadId();
    expect(
      (await env.http().post('/api/sequences/welcome/enroll').set(as(sales)).send({ leadId: lead })).status,
    ).toBe(403);
    const bad = await env
      .http()
      .post('/api/sequences/welcome/enroll')
      .set(as(marketing))
      .send({ leadId: { $gt: '' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('leadId');
    const missing = await env
      .http()
      .post('/api/sequences/welcome/enroll')
      .set(as(marketing))
      .send({ leadId: 'a'.repeat(24) });
    expect(missing.status).toBe(404);
  });

  it('when a lead is captured by a form or source a sequence names, then it is enrolled and set to nurturing', async () => {
    await env
      .http()
      .put('/api/sequences/by-source')
      .set(as(marketing))
      .send({
        name: 'S',
        enroll: { sources: ['Webinar'] },
        steps: [{ id: 's', wait: '1d', subject: 'S', text: 's' }],
      });
    await env
      .http()
      .put('/api/sequences/named')
      .set(as(marketing))
      .send({ name: 'N', steps: [{ id: 's', wait: '1d', subject: 'S', text: 's' }] });
    const byForm = await makeLeadId();
    const bySource = await makeLeadId({ status: 'qualified' });
    const byName = await makeLeadId();
    const neither = await makeLeadId();
    await enqueue('lead-captured', { leadId: byForm, via: 'form', created: true, formId: 'contact-us' });
    await enqueue('lead-captured', { leadId: bySource, via: 'import', created: true, source: 'Webinar' });
    await enqueue('lead-captured', {
      leadId: byName,
      via: 'form',
      created: true,
      formId: 'x',
      sequenceKey: 'named',
    });
    await enqueue('lead-captured', { leadId: neither, via: 'api', created: true, source: 'Other' });
    const keysOf = async (leadId: string) =>
      (await Enrollment.find({ leadId }).lean()).map((e) => e.sequenceKey).sort();
    await waitFor(async () => (await keysOf(byName)).length === 1);
    await waitFor(async () => (await keysOf(byForm)).length === 1 && (await keysOf(bySource)).length === 1);
    expect(await keysOf(byForm)).toEqual(['welcome']);
    expect(await keysOf(bySource)).toEqual(['by-source']);
    expect(await keysOf(byName)).toEqual(['named']);
    expect(await keysOf(neither)).toEqual([]);
    // the status is set just after the enrollment is stored
    await waitFor(async () => (await Lead.findById(byForm).lean())?.status === 'nurturing', {
      what: 'the enrolled lead nurturing',
    });
    // enrollment never moves a lead backwards
    expect((await Lead.findById(bySource).lean())!.status).toBe('qualified');
    // a second capture does not enroll twice
    await enqueue('lead-captured', { leadId: byForm, via: 'form', created: false, formId: 'contact-us' });
    await enqueue('lead-captured', { leadId: byName, via: 'form', created: false, sequenceKey: 'named' });
    await waitFor(async () => (await getQueue('lead-captured').getJobCounts('completed')).completed === 6, {
      what: 'six lead-captured jobs done',
    });
    expect(await Enrollment.countDocuments({ leadId: { $in: [byForm, byName] } })).toBe(2);
  });

  it('when stats are asked for, then enrollments are counted by state', async () => {
    const res = await env.http().get('/api/sequences/welcome/stats').set(as(sales));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ enrolled: 1, active: 1, completed: 0, exited: 0, converted: 0 });
    expect(res.body.steps.map((s: { id: string }) => s.id)).toEqual(['hello', 'case-study']);
  });

  it('when several PUTs of one sequence race, then each gets its own version', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        env
          .http()
          .put('/api/sequences/racing')
          .set(as(marketing))
          .send({ ...valid, name: `Racing ${i}` }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(results.map((r) => r.body.version).sort()).toEqual([1, 2, 3, 4, 5]);
    expect((await env.http().get('/api/sequences/racing').set(as(marketing))).body.version).toBe(5);
  });

  it('when the scheduler’s reconcile task runs, then a step that became due is sent', async () => {
    await env
      .http()
      .put('/api/sequences/scheduled')
      .set(as(marketing))
      .send({ name: 'Sched', steps: [{ id: 'later', wait: '3d', subject: 'Later', text: 'x' }] });
    const leadId = await makeLeadId();
    const res = await env.http().post('/api/sequences/scheduled/enroll').set(as(marketing)).send({ leadId });
    expect(res.status).toBe(201);
    expect(await EmailSend.countDocuments({ enrollmentId: res.body.id })).toBe(0);
    advanceClock(3 * 24 * 3_600_000 + 60_000);
    await enqueue('maintenance', { task: 'reconcile' });
    const send = await waitFor(() => EmailSend.findOne({ enrollmentId: res.body.id }).lean());
    expect(send.stepId).toBe('later');
  });
});
