import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utcDay } from '../../src/modules/scoring/scoring.logic.js';
import { ScoreEntry } from '../../src/modules/scoring/index.js';
import { useTestEnv } from '../helpers/env.js';
import { startProcess, tsxBin, type Spawned } from '../helpers/processes.js';
import { createLead, ledgerSum, postEvents, putRules, scoringIdle, storedScore } from '../helpers/scoring.js';
import { clock } from '../../src/lib/clock.js';

describe('scoring with several worker processes', () => {
  const env = useTestEnv();
  const workers: Spawned[] = [];

  beforeAll(async () => {
    const uri = new URL(env.config.mongodbUri);
    uri.pathname = `/${env.dbName}`;
    for (let i = 0; i < 3; i++) {
      workers.push(
        startProcess(tsxBin, ['workers/scoring.ts'], {
          MONGODB_URI: uri.toString(),
          REDIS_URL: env.config.redisUrl,
          QUEUE_PREFIX: env.config.queuePrefix,
          DATA_DIR: mkdtempSync(path.join(tmpdir(), 'leadflow-scoring-')),
          LOG_LEVEL: 'debug',
          WORKER_CONCURRENCY: '4',
        }),
      );
    }
    await Promise.all(workers.map((w) => w.waitForOutput(/worker started/, 60_000)));
  });
  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  });

  it('when 20 batches for one lead race on three worker processes, then every award is written once and score == ledger sum', async () => {
    await putRules(env, {
      rules: [
        { id: 'visit', event: 'visit', points: 1 },
        { id: 'pricing', event: 'page_view', where: { path: '/pricing' }, points: 3, maxPerDay: 5 },
        { id: 'webinar', event: 'webinar', points: 20, maxTotal: 2 },
        { id: 'unsub', event: 'bad', points: -2 },
      ],
    });
    await scoringIdle(60_000);
    const hot = await createLead(env, { email: 'hot@example.com' });
    const cold = await createLead(env, { email: 'cold@example.com' });
    const now = clock.now().getTime();
    const batches = Array.from({ length: 20 }, (_, b) =>
      Array.from({ length: 25 }, (_, i) => {
        const k = b * 25 + i;
        const type = ['visit', 'page_view', 'webinar', 'bad', 'visit'][k % 5]!;
        return {
          id: `ev-${k % 450}`,
          leadId: k % 10 === 9 ? cold : hot,
          type,
          occurredAt: new Date(now - (k % 3) * 86_400_000).toISOString(),
          properties: type === 'page_view' ? { path: '/pricing' } : {},
        };
      }),
    );
    const answers = await Promise.all(batches.map((events) => postEvents(env, events)));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(answers.reduce((s, a) => s + a.body.accepted, 0)).toBe(450);
    expect(answers.reduce((s, a) => s + a.body.duplicates, 0)).toBe(50);
    await scoringIdle(90_000);

    // what the rules give, computed here from the unique events
    const unique = new Map(batches.flat().map((e) => [e.id, e]));
    const expected = new Map<string, number>([
      [hot, 0],
      [cold, 0],
    ]);
    const pricingDays = new Map<string, number>();
    const webinars = new Map<string, number>();
    for (const e of unique.values()) {
      let p = 0;
      if (e.type === 'visit') p = 1;
      if (e.type === 'bad') p = -2;
      if (e.type === 'page_view') {
        const k = `${e.leadId}|${utcDay(new Date(e.occurredAt))}`;
        if ((pricingDays.get(k) ?? 0) < 5) p = 3;
        pricingDays.set(k, (pricingDays.get(k) ?? 0) + 1);
      }
      if (e.type === 'webinar') {
        if ((webinars.get(e.leadId) ?? 0) < 2) p = 20;
        webinars.set(e.leadId, (webinars.get(e.leadId) ?? 0) + 1);
      }
      expected.set(e.leadId, expected.get(e.leadId)! + p);
    }
    for (const id of [hot, cold]) {
      expect(await storedScore(id)).toBe(await ledgerSum(id));
      expect(await ledgerSum(id)).toBe(expected.get(id));
      expect(await ScoreEntry.countDocuments({ leadId: id, ruleId: 'webinar' })).toBe(id === hot ? 2 : 0);
    }
    expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
  }, 120_000);
});
