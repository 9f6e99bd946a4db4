import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { advanceClock, clock } from '../../src/lib/clock.js';
import { runWorker, workerOptions } from '../../src/lib/worker.js';
import { Lead } from '../../src/modules/leads/index.js';
import { scoringProcessor, startDecayPass } from '../../src/modules/scoring/index.js';
import { useTestEnv } from '../helpers/env.js';
import {
  auth,
  createLead,
  ledgerSum,
  postEvents,
  putRules,
  scoringIdle,
  storedScore,
} from '../helpers/scoring.js';

const variants = [
  {
    rules: [
      { id: 'a', event: 'a', points: 10, maxPerDay: 2 },
      { id: 'b', event: 'b', points: -3 },
      { id: 'c', event: 'c', points: 25, maxTotal: 1 },
    ],
    decay: { halfLife: '7d' },
    cap: 80,
  },
  {
    rules: [
      { id: 'a', event: 'a', points: 4 },
      { id: 'c', event: 'c', points: 7, maxPerDay: 1 },
    ],
    decay: { halfLife: '3d' },
  },
  {
    rules: [{ id: 'b', event: 'b', points: 6, maxTotal: 3 }],
    fit: [{ id: 't', field: 'title', equals: 'CTO', points: 1 }],
  },
];

const command = fc.oneof(
  fc.record({
    kind: fc.constant('events' as const),
    lead: fc.integer({ min: 0, max: 2 }),
    types: fc.array(fc.constantFrom('a', 'b', 'c', 'x'), { minLength: 1, maxLength: 6 }),
    daysAgo: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ kind: fc.constant('decay' as const), days: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('rules' as const), variant: fc.integer({ min: 0, max: 2 }) }),
  fc.record({
    kind: fc.constant('merge' as const),
    into: fc.integer({ min: 0, max: 2 }),
    from: fc.integer({ min: 0, max: 2 }),
  }),
);

describe('scoring: score == ledger sum (property)', () => {
  const env = useTestEnv();
  beforeAll(() => {
    runWorker('scoring', scoringProcessor(env.rt), workerOptions(env.rt, 4));
  });

  it('whatever mix of events, decay passes, rule changes and merges runs (partly at once), then every lead scores its ledger sum', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 3, maxLength: 8 }), async (commands) => {
        run++;
        await putRules(env, variants[0]!);
        const leads: string[] = [];
        for (let i = 0; i < 3; i++)
          leads.push(await createLead(env, { email: `p${run}-${i}@example.com`, title: i ? 'CTO' : 'Dev' }));
        const live = new Set(leads);
        // commands run two at a time, so writers overlap
        for (let i = 0; i < commands.length; i += 2) {
          await Promise.all(
            commands.slice(i, i + 2).map(async (c) => {
              if (c.kind === 'events') {
                const at = new Date(clock.now().getTime() - c.daysAgo * 86_400_000).toISOString();
                const res = await postEvents(
                  env,
                  c.types.map((type) => ({ leadId: leads[c.lead], type, occurredAt: at })),
                );
                expect(res.status).toBe(202);
              } else if (c.kind === 'decay') {
                await scoringIdle(60_000);
                advanceClock(c.days * 86_400_000);
                await startDecayPass();
              } else if (c.kind === 'rules') {
                await putRules(env, variants[c.variant]!);
              } else {
                const into = leads[c.into]!;
                const from = leads[c.from]!;
                if (into === from || !live.has(into) || !live.has(from)) return;
                live.delete(from);
                const res = await env
                  .http()
                  .post(`/api/leads/${into}/merge`)
                  .set(auth)
                  .send({ ids: [from] });
                expect(res.status).toBe(200);
              }
            }),
          );
        }
        await scoringIdle(60_000);
        for (const id of leads) {
          const stored = await storedScore(id);
          const sum = await ledgerSum(id);
          expect({ id, stored }).toEqual({ id, stored: sum });
          const tomb = (await Lead.findById(id).lean())?.mergedInto;
          if (tomb) expect(sum).toBe(0);
          else {
            const view = await env.http().get(`/api/leads/${id}/score`).set(auth);
            expect(view.body.score).toBe(
              view.body.ledger.reduce((s: number, e: { points: number }) => s + e.points, 0),
            );
            expect(view.body.score).toBe(stored);
          }
        }
      }),
      { numRuns: 4, endOnFailure: true },
    );
  }, 300_000);
});
