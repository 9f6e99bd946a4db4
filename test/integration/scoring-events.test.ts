import { Types } from 'mongoose';
import { beforeAll, describe, expect, it } from 'vitest';
import { runWorker, workerOptions } from '../../src/lib/worker.js';
import { EmailSend, signToken } from '../../src/modules/email/index.js';
import { Lead, LeadEvent } from '../../src/modules/leads/index.js';
import {
  RescoreRun,
  ScoreEntry,
  ScoringRuleset,
  reconcileScoring,
  ScoringReconcileCursor,
  runRescore,
  scoringProcessor,
} from '../../src/modules/scoring/index.js';
import { useTestEnv } from '../helpers/env.js';
import {
  auth,
  createLead,
  ledgerSum,
  postEvents,
  putRules,
  scoringIdle,
  storedScore,
  waitForScore,
} from '../helpers/scoring.js';
import { waitFor } from '../helpers/wait.js';

describe('scoring: internal events, merges, erasure, rescoring, the API', () => {
  const env = useTestEnv();
  beforeAll(() => {
    runWorker('scoring', scoringProcessor(env.rt), workerOptions(env.rt, 4));
  });

  it('when the email area records an open from the tracking pixel, then the open scores', async () => {
    await putRules(env, { rules: [{ id: 'open', event: 'email_open', points: 2 }] });
    const leadId = await createLead(env, { email: 'opener@example.com' });
    const send = await EmailSend.create({
      sendKey: `${leadId}:hello`,
      leadId: new Types.ObjectId(leadId),
      enrollmentId: new Types.ObjectId(),
      sequenceKey: 'welcome',
      stepId: 'hello',
      variant: 'a',
      content: { subject: 'Hi', html: '<p>Hi</p>' },
      marketing: true,
    });
    const token = signToken(env.rt.trackingSecret, { kind: 'open', sendId: String(send._id) });
    expect((await env.http().get(`/t/o/${token}`)).status).toBe(200);
    expect((await env.http().get(`/t/o/${token}`)).status).toBe(200);
    await waitForScore(leadId, 4);
  });

  it('when a form is submitted, then the form_submit event scores under the same rules', async () => {
    await putRules(env, {
      rules: [{ id: 'form', event: 'form_submit', where: { formId: 'demo' }, points: 15 }],
    });
    expect(
      (await env.http().put('/api/forms/demo').set(auth).send({ name: 'Demo request' })).status,
    ).toBeLessThan(300);
    const res = await env.http().post('/f/demo').send({ email: 'former@example.com', firstName: 'Ada' });
    expect(res.status).toBe(201);
    const ev = await LeadEvent.findOne({ leadId: res.body.leadId, type: 'form_submit' }).lean();
    expect(ev).toBeTruthy();
    if ((ev!.properties as { formId?: string }).formId === 'demo') await waitForScore(res.body.leadId, 15);
    else expect.fail(`form_submit properties do not name the form: ${JSON.stringify(ev!.properties)}`);
  });

  it('when leads are merged, then their ledger moves to the survivor and both scores equal their ledgers', async () => {
    await putRules(env, { rules: [{ id: 'visit', event: 'visit', points: 5 }] });
    const a = await createLead(env, { email: 'merge-a@example.com' });
    const b = await createLead(env, { email: 'merge-b@example.com' });
    await postEvents(env, [
      { leadId: a, type: 'visit' },
      { leadId: b, type: 'visit' },
      { leadId: b, type: 'visit' },
    ]);
    await waitForScore(a, 5);
    await waitForScore(b, 10);
    const merged = await env
      .http()
      .post(`/api/leads/${a}/merge`)
      .set(auth)
      .send({ ids: [b] });
    expect(merged.status).toBe(200);
    await waitForScore(a, 15);
    await waitFor(async () => (await storedScore(b)) === 0, { what: 'the tombstone to score 0' });
    expect(await ScoreEntry.countDocuments({ leadId: b })).toBe(0);
    // an event for the old email (or id) lands on the survivor
    const late = await postEvents(env, [
      { email: 'merge-b@example.com', type: 'visit' },
      { leadId: b, type: 'visit' },
    ]);
    expect(late.body.accepted).toBe(2);
    await waitForScore(a, 25);
  });

  it('when a lead is erased, then its ledger goes with it', async () => {
    const leadId = await createLead(env, { email: 'erase@example.com' });
    await postEvents(env, [{ leadId, type: 'visit' }]);
    await waitForScore(leadId, 5);
    expect((await env.http().delete(`/api/leads/${leadId}`).set(auth)).status).toBe(204);
    expect(await ScoreEntry.countDocuments({ leadId })).toBe(0);
    expect((await env.http().get(`/api/leads/${leadId}/score`).set(auth)).status).toBe(404);
  });

  it('when the rules change, then existing leads are rescored from their history with progress shown', async () => {
    await putRules(env, { rules: [{ id: 'visit', event: 'visit', points: 5 }] });
    const leadId = await createLead(env, { email: 'rescore@example.com' });
    await postEvents(
      env,
      [1, 2, 3].map(() => ({ leadId, type: 'visit' })).concat([{ leadId, type: 'talk' }]),
    );
    await waitForScore(leadId, 15);
    await scoringIdle();
    const version = await putRules(env, {
      rules: [
        { id: 'visit', event: 'visit', points: 2, maxTotal: 2 },
        { id: 'talk', event: 'talk', points: 30 },
      ],
    });
    await waitForScore(leadId, 34);
    await waitFor(
      async () => (await env.http().get('/api/scoring').set(auth)).body.rescore?.status === 'completed',
      {
        what: 'the rescore to complete',
      },
    );
    const view = await env.http().get('/api/scoring').set(auth);
    expect(view.body).toMatchObject({ version, rescore: { version, status: 'completed' } });
    expect(view.body.rescore.done).toBe(view.body.rescore.total);
    const progress = await env.http().get('/api/scoring/rescore').set(auth);
    expect(progress.body.rescore).toMatchObject({ version, status: 'completed' });
    const old = await env
      .http()
      .get(`/api/scoring?version=${version - 1}`)
      .set(auth);
    expect(old.body).toMatchObject({ version: version - 1, rules: [{ id: 'visit', points: 5 }] });
    const entries = await ScoreEntry.find({ leadId }).lean();
    expect(entries.every((e) => e.version === version)).toBe(true);
  });

  it('when a rescoring run stopped mid-way, then running it again resumes after its checkpoint and finishes', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await createLead(env, { email: `resume-${i}@example.com` }));
    await postEvents(
      env,
      ids.map((leadId) => ({ leadId, type: 'talk' })),
    );
    for (const id of ids) await waitForScore(id, 30);
    await scoringIdle();
    // a new version whose run "crashed" after the first lead: its checkpoint is saved, the job is gone
    const current = (await ScoringRuleset.findOne({}).sort({ _id: -1 }).lean())!;
    const version = current._id + 1;
    await ScoringRuleset.create({ _id: version, rules: [{ id: 'talk', event: 'talk', points: 7 }], fit: [] });
    const sorted = [...(await Lead.find({ mergedInto: null }, { _id: 1 }).sort({ _id: 1 }).lean())];
    const cursor = String(sorted[sorted.length - 3]!._id);
    await RescoreRun.create({
      _id: version,
      status: 'running',
      done: sorted.length - 2,
      total: sorted.length,
      cursor,
    });
    const result = await runRescore(env.rt, version);
    expect(result.status).toBe('completed');
    const run = await RescoreRun.findById(version).lean();
    expect(run).toMatchObject({ status: 'completed', done: sorted.length });
    // only the leads after the checkpoint were rescored by the resumed run
    const after = sorted.slice(-2).map((l) => String(l._id));
    for (const id of ids) {
      if (after.includes(id)) await waitForScore(id, 7);
      else expect(await ledgerSum(id)).toBe(await storedScore(id));
    }
  });

  it('when an event was recorded but its scoring job was lost, then the reconciler hands it to scoring', async () => {
    await putRules(env, { rules: [{ id: 'lost', event: 'lost', points: 9 }] });
    await scoringIdle();
    const leadId = await createLead(env, { email: 'lost@example.com' });
    // as if the process stopped between the insert and the enqueue
    await LeadEvent.create({
      leadId,
      type: 'lost',
      occurredAt: new Date(),
      key: `lost:${leadId}`,
      createdAt: new Date(Date.now() - 5 * 60_000),
    });
    const r = await reconcileScoring();
    expect(r.events).toBeGreaterThanOrEqual(1);
    // the event was unmarked: the next run starts from it again
    const stuck = await ScoringReconcileCursor.findById('events').lean();
    expect(stuck!.verifiedBefore.getTime()).toBeLessThanOrEqual(Date.now() - 5 * 60_000);
    await waitForScore(leadId, 9);
    await scoringIdle();
    expect((await reconcileScoring()).events).toBe(0);
    // now every event up to two minutes ago has its mark: the cursor moves there, and a minute it
    // has checked is not read again (an event is never recorded minutes in the past outside tests)
    const moved = await ScoringReconcileCursor.findById('events').lean();
    expect(moved!.verifiedBefore.getTime()).toBeGreaterThan(Date.now() - 3 * 60_000);
    await LeadEvent.create({
      leadId,
      type: 'lost',
      occurredAt: new Date(),
      key: `lost-again:${leadId}`,
      createdAt: new Date(Date.now() - 4 * 60_000),
    });
    expect((await reconcileScoring()).events).toBe(0);
  });

  it('when hostile or malformed input reaches the scoring endpoints, then a 4xx names it and nothing is written', async () => {
    const before = await ScoringRuleset.countDocuments({});
    const bad = await env
      .http()
      .put('/api/scoring')
      .set(auth)
      .send({
        rules: [{ id: { $gt: '' }, event: 'x', points: 1 }],
        fit: [{ id: 'f', field: '__proto__', matches: '(a+)+', points: 1 }],
        $set: { cap: 1 },
      });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    const paths = bad.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['rules.0.id', 'fit.0.field', 'fit.0.matches']));
    expect((await env.http().put('/api/scoring').set(auth).send([])).status).toBe(400);
    const huge = await env
      .http()
      .put('/api/scoring')
      .set(auth)
      .send({
        rules: Array.from({ length: 501 }, (_, i) => ({ id: `r${i}`, event: 'x', points: 1 })),
      });
    expect(huge.status).toBe(400);
    const text = await env
      .http()
      .put('/api/scoring')
      .set(auth)
      .set('Content-Type', 'text/plain')
      .send('rules');
    expect(text.status).toBe(415);
    expect(await ScoringRuleset.countDocuments({})).toBe(before);
    const q = await env.http().get('/api/scoring?version[$gt]=1&x=1').set(auth);
    expect(q.status).toBe(400);
    expect((await env.http().get('/api/scoring?version=abc').set(auth)).status).toBe(400);
    expect((await env.http().get('/api/scoring?version=999999').set(auth)).status).toBe(404);
    expect((await env.http().get('/api/leads/not-an-id/score').set(auth)).status).toBe(400);
    expect((await env.http().get('/api/leads/ffffffffffffffffffffffff/score').set(auth)).status).toBe(404);
    const sales = await env.keyFor('sales');
    expect(
      (
        await env
          .http()
          .put('/api/scoring')
          .set({ Authorization: `Bearer ${sales}` })
          .send({ rules: [] })
      ).status,
    ).toBe(403);
    expect(
      (await env.http().get('/api/scoring').set({ Authorization: 'Bearer forged-key-0123456789abcdef' }))
        .status,
    ).toBe(401);
  });
});
