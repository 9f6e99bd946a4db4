import { beforeAll, describe, expect, it } from 'vitest';
import { advanceClock, clock } from '../../src/lib/clock.js';
import { runWorker, workerOptions } from '../../src/lib/worker.js';
import { LeadEvent } from '../../src/modules/events/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { ScoreEntry, scoringProcessor, startDecayPass } from '../../src/modules/scoring/index.js';
import { useTestEnv } from '../helpers/env.js';
import {
  auth,
  createLead,
  postEvents,
  putRules,
  scoringIdle,
  storedScore,
  waitForScore,
} from '../helpers/scoring.js';
import { waitFor } from '../helpers/wait.js';

describe('scoring: rules, caps, ledger', () => {
  const env = useTestEnv();
  beforeAll(() => {
    runWorker('scoring', scoringProcessor(env.rt), workerOptions(env.rt, 4));
  });

  it('when events match rules, then the score is the sum of awards, conditions and caps applied', async () => {
    await putRules(env, {
      rules: [
        { id: 'pricing', event: 'page_view', where: { path: '/pricing' }, points: 10, maxPerDay: 2 },
        { id: 'webinar', event: 'webinar', points: 25, maxTotal: 1 },
        { id: 'open', event: 'email_open', points: 1 },
        { id: 'careers', event: 'page_view', where: { path: '/careers' }, points: -5 },
      ],
    });
    const leadId = await createLead(env, { email: 'points@example.com' });
    const day1 = new Date(clock.now().getTime() - 3 * 86_400_000);
    const day2 = new Date(day1.getTime() + 86_400_000);
    const res = await postEvents(env, [
      ...[0, 1, 2].map((i) => ({
        leadId,
        type: 'page_view',
        occurredAt: new Date(day1.getTime() + i * 1000).toISOString(),
        properties: { path: '/pricing' },
      })),
      { leadId, type: 'page_view', occurredAt: day2.toISOString(), properties: { path: '/pricing' } },
      { leadId, type: 'page_view', properties: { path: '/blog' } },
      { leadId, type: 'webinar' },
      { leadId, type: 'webinar' },
      { leadId, type: 'email_open' },
      { leadId, type: 'page_view', properties: { path: '/careers' } },
    ]);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 9, duplicates: 0, rejected: [] });
    // pricing: 2 on day 1 (cap) + 1 on day 2 = 30; webinar once = 25; open 1; careers -5
    await waitForScore(leadId, 51);
    const score = await env.http().get(`/api/leads/${leadId}/score`).set(auth);
    expect(score.status).toBe(200);
    expect(score.body.score).toBe(51);
    expect(score.body.ledger.reduce((s: number, e: { points: number }) => s + e.points, 0)).toBe(51);
    expect(score.body.ledger).toHaveLength(6);
    expect(score.body.ledger[0]).toMatchObject({ points: 10, ruleId: 'pricing' });
    expect(score.body.ledger[0].eventId).toMatch(/^[a-f0-9]{24}$/);
    expect(score.body.reasons[0]).toMatchObject({ ruleId: 'pricing', points: 30 });
    // the score and its timeline entry are written side by side (ledger.commit): wait for the entry
    const timeline = await waitFor(
      async () => {
        const t = await env.http().get(`/api/leads/${leadId}/timeline`).set(auth);
        return t.body.items.some((i: { kind: string }) => i.kind === 'score_change') ? t : undefined;
      },
      { what: 'the score_change entry' },
    );
    expect(timeline.body.items.some((i: { kind: string }) => i.kind === 'score_change')).toBe(true);
  });

  it('when the overall cap is reached, then awards stop at the cap and negative points still apply', async () => {
    await putRules(env, {
      rules: [
        { id: 'demo', event: 'demo', points: 40 },
        { id: 'bounce', event: 'bad', points: -10 },
      ],
      cap: 100,
    });
    const leadId = await createLead(env, { email: 'cap@example.com' });
    await postEvents(
      env,
      [1, 2, 3].map(() => ({ leadId, type: 'demo' })),
    );
    await waitForScore(leadId, 100);
    await postEvents(env, [{ leadId, type: 'bad' }]);
    await waitForScore(leadId, 90);
  });

  it('when fit rules are set, then the grade is the share of attainable fit points, apart from the score', async () => {
    await putRules(env, {
      rules: [{ id: 'visit', event: 'page_view', points: 3 }],
      fit: [
        { id: 'title', field: 'title', matches: '^(VP|Chief|Head)', points: 40 },
        { id: 'country', field: 'country', in: ['US', 'CA'], points: 30 },
        { id: 'industry', field: 'attributes.industry', equals: 'software', points: 30 },
      ],
    });
    const a = await createLead(env, {
      email: 'grade-a@example.com',
      title: 'VP Sales',
      country: 'US',
      attributes: { industry: 'software' },
    });
    const c = await createLead(env, { email: 'grade-c@example.com', title: 'Head of IT', country: 'FR' });
    const f = await createLead(env, { email: 'grade-f@example.com', title: 'Intern', country: 'DE' });
    await postEvents(
      env,
      [a, c, f].map((leadId) => ({ leadId, type: 'page_view' })),
    );
    await waitForScore(f, 3);
    await waitForScore(a, 3);
    await waitFor(async () => (await Lead.findById(f).lean())?.grade === 'F', { what: 'grade F' });
    expect((await Lead.findById(a).lean())?.grade).toBe('A');
    expect((await Lead.findById(c).lean())?.grade).toBe('C');
    expect(await storedScore(a)).toBe(3);
  });

  it('when an event id repeats in a batch, across batches and across concurrent requests, then it counts once', async () => {
    await putRules(env, { rules: [{ id: 'visit', event: 'visit', points: 1 }] });
    const leadId = await createLead(env, { email: 'dups@example.com' });
    const one = await postEvents(env, [
      { id: 'e-1', leadId, type: 'visit' },
      { id: 'e-1', leadId, type: 'visit' },
      { id: 'e-2', leadId, type: 'visit' },
    ]);
    expect(one.body).toEqual({ accepted: 2, duplicates: 1, rejected: [] });
    const again = await postEvents(env, [
      { id: 'e-2', email: 'DUPS@example.com', type: 'visit' },
      { id: 'e-3', leadId, type: 'visit' },
    ]);
    expect(again.body).toEqual({ accepted: 1, duplicates: 1, rejected: [] });
    const racing = await Promise.all(
      Array.from({ length: 8 }, () =>
        postEvents(env, [
          { id: 'e-4', leadId, type: 'visit' },
          { id: 'e-5', leadId, type: 'visit' },
        ]),
      ),
    );
    expect(racing.every((r) => r.status === 202)).toBe(true);
    expect(racing.reduce((s, r) => s + r.body.accepted, 0)).toBe(2);
    expect(racing.reduce((s, r) => s + r.body.duplicates, 0)).toBe(14);
    await waitForScore(leadId, 5);
    expect(await LeadEvent.countDocuments({ leadId, type: 'visit' })).toBe(5);
  });

  it('when events are bad or name unknown leads, then they are rejected by index with a reason and the rest is accepted', async () => {
    const leadId = await createLead(env, { email: 'rejects@example.com' });
    const future = new Date(clock.now().getTime() + 3_600_000).toISOString();
    const res = await postEvents(env, [
      { leadId, type: 'visit' },
      { leadId: 'ffffffffffffffffffffffff', type: 'visit' },
      { email: 'nobody@example.com', type: 'visit' },
      { leadId, type: 'visit', occurredAt: future },
      { leadId, type: 'visit', occurredAt: 'yesterday' },
      { leadId, type: { $gt: '' } },
      { leadId, email: 'rejects@example.com', type: 'visit' },
      { leadId, type: 'visit', properties: { $where: 'sleep(1000)' } },
      'not an event',
      { leadId, type: 'score_change' },
    ]);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(1);
    expect(res.body.duplicates).toBe(0);
    expect(res.body.rejected.map((r: { index: number }) => r.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const r of res.body.rejected) expect(r.error).toEqual(expect.any(String));
    expect(res.body.rejected[0].error).toMatch(/no lead/);
    expect(res.body.rejected[2].error).toMatch(/future/);
    expect(await LeadEvent.countDocuments({ leadId, type: 'visit' })).toBe(1);
  });

  it('when a batch is over 1,000 events or not a batch, then it is refused and nothing is written', async () => {
    const leadId = await createLead(env, { email: 'big@example.com' });
    const big = await postEvents(
      env,
      Array.from({ length: 1001 }, () => ({ leadId, type: 'x' })),
    );
    expect([400, 413]).toContain(big.status);
    expect(big.body.error.code).toMatch(/payload_too_large|validation_failed/);
    const notArray = await env
      .http()
      .post('/api/events')
      .set(auth)
      .send({ events: { $gt: '' } });
    expect(notArray.status).toBe(400);
    expect(notArray.body.error.details[0].path).toBe('events');
    const extra = await env.http().post('/api/events').set(auth).send({ events: [], $where: 1 });
    expect(extra.status).toBe(400);
    const sales = await env.keyFor('sales');
    const forbidden = await env
      .http()
      .post('/api/events')
      .set({ Authorization: `Bearer ${sales}` })
      .send({ events: [] });
    expect(forbidden.status).toBe(403);
    expect(await LeadEvent.countDocuments({ leadId, type: 'x' })).toBe(0);
  });

  it('when time passes with decay set, then a pass writes one negative entry per positive lead and score stays the ledger sum', async () => {
    await putRules(env, { rules: [{ id: 'demo', event: 'demo', points: 100 }], decay: { halfLife: '10d' } });
    const leadId = await createLead(env, { email: 'decay@example.com' });
    const zero = await createLead(env, { email: 'zero@example.com' });
    await postEvents(env, [{ leadId, type: 'demo' }]);
    await waitForScore(leadId, 100);
    await scoringIdle();
    advanceClock(10 * 86_400_000);
    const pass = await startDecayPass();
    expect(pass.leads).toBeGreaterThanOrEqual(1);
    await waitForScore(leadId, 50);
    // the same pass again writes nothing more
    await startDecayPass(pass.passId!);
    await scoringIdle();
    expect(await ScoreEntry.countDocuments({ leadId, kind: 'decay' })).toBe(1);
    expect(await ScoreEntry.countDocuments({ leadId: zero })).toBe(0);
    advanceClock(10 * 86_400_000);
    await startDecayPass();
    await waitForScore(leadId, 25);
    expect(await ScoreEntry.countDocuments({ leadId, kind: 'decay' })).toBe(2);
  });
});
