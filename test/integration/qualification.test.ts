import { Types } from 'mongoose';
import { beforeAll, describe, expect, it } from 'vitest';
import { advanceClock, clock } from '../../src/lib/clock.js';
import { LeadEvent } from '../../src/modules/events/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { emailKey } from '../../src/modules/leads/normalize.js';
import {
  HandoffRequest,
  backfillOpenFlag,
  handoffJobId,
  reconcileQualification,
  takenUpdate,
} from '../../src/modules/qualification/index.js';
import { Enrollment } from '../../src/modules/sequences/index.js';
import { enqueue, getQueue } from '../../src/queues/index.js';
import { startQualificationSweepWorker } from '../../workers/qualification-sweep.js';
import { startQualificationWorker } from '../../workers/qualification.js';
import { startStageReachedWorker } from '../../workers/stage-reached.js';
import { useTestEnv } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';

type LeadJson = { id: string; lifecycleStage: string; status: string };

describe('qualification transitions', () => {
  const env = useTestEnv();
  let marketing: string;
  let sales: string;
  beforeAll(async () => {
    marketing = await env.keyFor('marketing');
    sales = await env.keyFor('sales');
    startQualificationWorker(env.rt);
    startQualificationSweepWorker(env.rt);
    startStageReachedWorker(env.rt);
    const res = await env
      .http()
      .put('/api/qualification')
      .set(as(marketing))
      .send({
        threshold: 50,
        require: { budget: true, authority: true, need: true, timeline: true },
        agreedBy: { marketing: 'Maria', sales: 'Sam' },
      });
    expect(res.status).toBe(200);
  });
  const as = (k: string) => ({ Authorization: `Bearer ${k}` });
  let n = 0;
  async function newLead(extra: Record<string, unknown> = {}): Promise<string> {
    const email = `q${++n}-${Date.now()}@example.com`;
    return String(
      (await Lead.create({ email, emailKey: emailKey(email), stageDates: { lead: clock.now() }, ...extra }))
        ._id,
    );
  }
  /** what the scoring area does after a score change: store it, then ask qualification */
  async function scoreChanged(leadId: string, score: number, grade?: string) {
    await Lead.updateOne({ _id: leadId }, { $set: { score, ...(grade ? { grade } : {}) } });
    await enqueue('qualification', { leadId });
  }
  /** every qualification job so far has finished */
  const drained = () =>
    waitFor(
      async () => {
        const c = await getQueue('qualification').getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        return Object.values(c).every((v) => v === 0);
      },
      { what: 'the qualification queue to drain' },
    );
  const lead = async (id: string) =>
    (await env.http().get(`/api/leads/${id}`).set(as(sales))).body as LeadJson;
  const patchBant = (id: string, bant: Record<string, unknown>) =>
    env.http().patch(`/api/leads/${id}`).set(as(sales)).send({ bant });

  it('when a lead crosses the threshold without BANT, then it is an MQL; the last answer via PATCH qualifies it with one handoff request', async () => {
    const id = await newLead();
    await scoreChanged(id, 60);
    await waitFor(async () => (await lead(id)).lifecycleStage === 'mql', { what: 'mql' });
    // the timeline entry is written before the stage (markMql)
    const mqlEvent = await LeadEvent.findOne({ leadId: id, type: 'stage_change' }).lean();
    expect(mqlEvent?.properties).toMatchObject({ from: 'lead', to: 'mql', agreementVersion: 1 });
    const stored = await Lead.findById(id).lean();
    expect((stored!.stageDates as Record<string, unknown>).mql).toBeInstanceOf(Date);
    expect(stored!.status).toBe('open');

    expect((await patchBant(id, { budget: '50k EUR', authority: true, need: 'CRM migration' })).status).toBe(
      200,
    );
    // three of four answers: the PATCH re-evaluates, still an MQL
    await drained();
    expect(await HandoffRequest.countDocuments({ leadId: id })).toBe(0);
    expect((await patchBant(id, { timeline: 'Q3' })).status).toBe(200);
    await waitFor(async () => (await lead(id)).status === 'qualified', { what: 'qualified' });
    const after = await lead(id);
    expect(after.lifecycleStage).toBe('sql');
    const requests = await HandoffRequest.find({ leadId: id }).lean();
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      _id: `${id}:1`,
      cycle: 1,
      agreementVersion: 1,
      processedAt: null,
      open: true,
      reasons: {
        score: 60,
        bant: { budget: '50k EUR', authority: true, need: 'CRM migration', timeline: 'Q3' },
      },
    });
    const q = (await Lead.findById(id).lean())!.qualification as Record<string, unknown>;
    expect(q).toMatchObject({ cycle: 1, agreementVersion: 1, requestId: `${id}:1` });
    // the handoff job is enqueued right after the status is stored
    const job = await waitFor(async () => getQueue('handoff').getJob(handoffJobId(`${id}:1`)), {
      what: 'the handoff job',
    });
    expect(job?.data).toEqual({ requestId: `${id}:1` });
    const timeline = await env.http().get(`/api/leads/${id}/timeline`).set(as(sales));
    expect(timeline.body.items.map((i: { kind: string }) => i.kind)).toEqual(
      expect.arrayContaining(['qualified', 'stage_change', 'bant_change']),
    );

    // evaluating again changes nothing: a qualified lead is not re-qualified
    await scoreChanged(id, 90);
    await drained();
    expect(await HandoffRequest.countDocuments({ leadId: id })).toBe(1);
  });

  it('when a BANT answer is false or blank, then it does not count as given', async () => {
    const id = await newLead({ score: 70, lifecycleStage: 'mql' });
    await patchBant(id, { budget: 'yes', authority: false, need: '   ', timeline: 'now' });
    await waitFor(async () => (await LeadEvent.countDocuments({ leadId: id, type: 'bant_change' })) === 1);
    await drained();
    expect((await lead(id)).status).toBe('open');
    expect((await Lead.findById(id).lean())!.bant).toMatchObject({ authority: false, need: '   ' });
  });

  it('when BANT in a PATCH is hostile or mistyped, then 400 names it and nothing changes', async () => {
    const id = await newLead();
    for (const bant of [{ budget: { $gt: '' } }, { budget: 5 }, { money: 'x' }, { need: 'a'.repeat(501) }]) {
      const res = await patchBant(id, bant);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details[0].path).toMatch(/^bant/);
    }
    expect((await Lead.findById(id).lean())!.bant).toEqual({
      budget: null,
      authority: null,
      need: null,
      timeline: null,
    });
  });

  const allBant = { budget: 'yes', authority: true, need: 'yes', timeline: 'Q1' };

  it('when a rejected (recycled) lead meets the agreement again, then it requalifies only after new engagement, as cycle 2', async () => {
    const id = await newLead({ bant: allBant });
    await scoreChanged(id, 80);
    await waitFor(async () => (await lead(id)).status === 'qualified');
    // what handoff does on reject: the request is taken, the lead goes back to nurture
    const rejectedAt = clock.now();
    await HandoffRequest.updateOne({ _id: `${id}:1` }, takenUpdate(rejectedAt));
    await Lead.updateOne(
      { _id: id },
      { $set: { status: 'nurturing', lifecycleStage: 'lead', recycledAt: rejectedAt } },
    );
    await enqueue('qualification', { leadId: id });
    await drained();
    expect((await lead(id)).status).toBe('nurturing');
    expect(await HandoffRequest.countDocuments({ leadId: id })).toBe(1);
    // new engagement: the score rises above what it was when the lead last qualified
    advanceClock(60_000);
    await scoreChanged(id, 85);
    await waitFor(async () => (await lead(id)).status === 'qualified', { what: 'requalified' });
    const requests = await HandoffRequest.find({ leadId: id }).sort({ cycle: 1 }).lean();
    expect(requests.map((r) => r._id)).toEqual([`${id}:1`, `${id}:2`]);
    expect((await Lead.findById(id).lean())!.qualification).toMatchObject({ cycle: 2, requestId: `${id}:2` });
  });

  it('when a worker died between the request insert and the lead update, then the reconciler repairs the lead and re-enqueues handoff', async () => {
    const id = await newLead({ bant: allBant, score: 70 });
    // the state a SIGKILL right after the insert leaves: the request, no lead update, no job
    await HandoffRequest.create({
      _id: `${id}:1`,
      leadId: id,
      cycle: 1,
      agreementVersion: 1,
      qualifiedAt: clock.now(),
      reasons: { score: 70, bant: allBant, grade: null },
    });
    expect(await getQueue('handoff').getJob(handoffJobId(`${id}:1`))).toBeUndefined();
    // younger than a minute: left alone (its own job may still be on the way)
    await reconcileQualification();
    expect((await lead(id)).status).toBe('open');
    advanceClock(2 * 60_000);
    const r = await reconcileQualification();
    expect(r.repaired).toBeGreaterThanOrEqual(1);
    expect(await lead(id)).toMatchObject({ status: 'qualified', lifecycleStage: 'sql' });
    expect((await getQueue('handoff').getJob(handoffJobId(`${id}:1`)))?.data).toEqual({
      requestId: `${id}:1`,
    });
    // a qualification job finds the request and adds no second one
    await enqueue('qualification', { leadId: id });
    await drained();
    expect(await HandoffRequest.countDocuments({ leadId: id })).toBe(1);
  });

  it('when requests were written before the open flag existed, then the reconciler still finds the untaken ones', async () => {
    const untaken = await newLead({ bant: allBant, score: 70 });
    const taken = await newLead({ bant: allBant, score: 70 });
    const raw = (id: string, processedAt: Date | null) => ({
      _id: `${id}:1`,
      leadId: new Types.ObjectId(id),
      cycle: 1,
      agreementVersion: 1,
      qualifiedAt: clock.now(),
      reasons: { score: 70, topReasons: [], bant: allBant, grade: null },
      processedAt,
    });
    // as an older leadflow wrote them: no `open` field
    await HandoffRequest.collection.insertMany([raw(untaken, null), raw(taken, clock.now())] as never[]);
    await backfillOpenFlag(true);
    const stored = await HandoffRequest.find({ _id: { $in: [`${untaken}:1`, `${taken}:1`] } }).lean();
    expect(Object.fromEntries(stored.map((r) => [r._id, r.open]))).toEqual({
      [`${untaken}:1`]: true,
      [`${taken}:1`]: false,
    });
    advanceClock(2 * 60_000);
    await reconcileQualification();
    expect(await lead(untaken)).toMatchObject({ status: 'qualified', lifecycleStage: 'sql' });
    expect(await getQueue('handoff').getJob(handoffJobId(`${untaken}:1`))).toBeTruthy();
    expect(await getQueue('handoff').getJob(handoffJobId(`${taken}:1`))).toBeUndefined();
    // taking a request closes it
    await HandoffRequest.updateOne({ _id: `${untaken}:1` }, takenUpdate(clock.now()));
    expect(await HandoffRequest.findById(`${untaken}:1`).lean()).toMatchObject({ open: false });
  });

  it('when a sequence enrolls at mql, then a lead reaching mql is enrolled, and qualifying ends that nurture (exitOn qualified)', async () => {
    const put = await env
      .http()
      .put('/api/sequences/mql-nurture')
      .set(as(marketing))
      .send({
        name: 'MQL nurture',
        enroll: { stages: ['mql'] },
        steps: [{ id: 'warm', wait: '1d', subject: 'Still thinking?', text: 'Hi' }],
        exitOn: ['qualified'],
      });
    expect(put.status).toBe(200);
    const bad = await env
      .http()
      .put('/api/sequences/bad-stage')
      .set(as(marketing))
      .send({ name: 'B', enroll: { stages: ['warm'] }, steps: [{ id: 'a', subject: 'S', text: 't' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('enroll.stages.0');

    const id = await newLead();
    await scoreChanged(id, 55);
    const enrollment = await waitFor(
      () => Enrollment.findOne({ leadId: id, sequenceKey: 'mql-nurture' }).lean(),
      { what: 'MQL nurture enrollment' },
    );
    expect(enrollment.state).toBe('active');
    await patchBant(id, allBant);
    await waitFor(async () => (await Enrollment.findById(enrollment._id).lean())?.state === 'exited', {
      what: 'nurture exit on qualification',
    });
    expect((await Enrollment.findById(enrollment._id).lean())!.exitReason).toBe('qualified');
  });

  it('when the agreement changes (a grade is now required), then open leads are re-evaluated in the background', async () => {
    const gradeA = await newLead({ bant: allBant, score: 10, grade: 'A' });
    const gradeC = await newLead({ bant: allBant, score: 10, grade: 'C' });
    const noGrade = await newLead({ bant: allBant, score: 10 });
    await drained();
    expect((await lead(gradeA)).status).toBe('open');
    const put = await env
      .http()
      .put('/api/qualification')
      .set(as(marketing))
      .send({
        threshold: 5,
        require: { budget: true, grade: 'B' },
        agreedBy: { marketing: 'Maria', sales: 'Sam' },
      });
    expect(put.status).toBe(200);
    const version = put.body.version as number;
    await waitFor(async () => (await lead(gradeA)).status === 'qualified', { what: 'grade A qualified' });
    await waitFor(
      async () =>
        (await env.http().get('/api/qualification').set(as(sales))).body.current.reevaluation.status ===
        'done',
    );
    await drained();
    // MQLs, not qualified (the MQL nurture above may have set them to nurturing)
    for (const id of [gradeC, noGrade]) {
      const l = await lead(id);
      expect(l.lifecycleStage).toBe('mql');
      expect(['open', 'nurturing']).toContain(l.status);
    }
    expect((await HandoffRequest.findById(`${gradeA}:1`).lean())!.agreementVersion).toBe(version);
    expect(await HandoffRequest.countDocuments({ leadId: { $in: [gradeC, noGrade] } })).toBe(0);
    const mql = await LeadEvent.findOne({ leadId: gradeC, type: 'stage_change' }).lean();
    expect(mql?.properties).toMatchObject({ to: 'mql', agreementVersion: version });
    // the grade rises to B: the scoring area asks again, and the lead qualifies
    await scoreChanged(gradeC, 10, 'B');
    await waitFor(async () => (await lead(gradeC)).status === 'qualified', { what: 'grade B qualified' });
  });
});
