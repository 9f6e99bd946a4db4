import { describe, expect, it } from 'vitest';
import { runWorker, workerOptions } from '../../src/lib/worker.js';
import { LeadEvent } from '../../src/modules/leads/index.js';
import { ScoreEntry, scoringProcessor } from '../../src/modules/scoring/index.js';
import { useTestEnv } from '../helpers/env.js';
import { auth, createLead, postEvents, putRules, scoringIdle, waitForScore } from '../helpers/scoring.js';

describe('a merge that raced a replay of the survivor is healed by the merge event', () => {
  const env = useTestEnv();

  it('when a replay read half-moved history during a merge and dropped an award, then scoring the merge replays the survivor and every event has its award again', async () => {
    // the CI-machine failure of 2026-12-02 (scoring-events.test.ts): a rescore replayed the survivor
    // while the merge was moving events and ledger entries (the merge takes no scoring lock), read
    // two of its three events, and removed the third event's award: stored 15, ledger 10, for good
    await putRules(env, { rules: [{ id: 'visit', event: 'visit', points: 5 }] });
    let worker = runWorker('scoring', scoringProcessor(env.rt), workerOptions(env.rt, 2));
    const a = await createLead(env, { email: 'race-a@example.com' });
    const b = await createLead(env, { email: 'race-b@example.com' });
    await postEvents(env, [
      { leadId: a, type: 'visit' },
      { leadId: b, type: 'visit' },
      { leadId: b, type: 'visit' },
    ]);
    await waitForScore(a, 5);
    await waitForScore(b, 10);
    await scoringIdle();
    await worker.close();

    const merged = await env
      .http()
      .post(`/api/leads/${a}/merge`)
      .set(auth)
      .send({ ids: [b] });
    expect(merged.status).toBe(200);
    // what the racing replay left: one moved award gone while the merge's event waits to be scored
    const moved = await ScoreEntry.find({ leadId: a }).sort({ _id: 1 }).lean();
    expect(moved).toHaveLength(3);
    const dropped = moved.find((e) => e.eventId && String(e.eventId) !== String(moved[0]!.eventId))!;
    await ScoreEntry.deleteOne({ _id: dropped._id });

    worker = runWorker('scoring', scoringProcessor(env.rt), workerOptions(env.rt, 2));
    await waitForScore(a, 15);
    const visits = await LeadEvent.find({ leadId: a, type: 'visit' }, { _id: 1 }).lean();
    const awards = await ScoreEntry.find({ leadId: a, kind: 'award' }).lean();
    expect(visits).toHaveLength(3);
    expect(new Set(awards.map((e) => String(e.eventId)))).toEqual(new Set(visits.map((v) => String(v._id))));
    await worker.close();
  });
});
