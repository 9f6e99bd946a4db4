import type { TestEnv } from './env.js';
import { ADMIN_KEY } from './env.js';
import { waitFor } from './wait.js';
import { Lead } from '../../src/modules/leads/index.js';
import { ScoreEntry } from '../../src/modules/scoring/index.js';
import { getQueue } from '../../src/queues/index.js';

export const auth = { Authorization: `Bearer ${ADMIN_KEY}` };

export async function createLead(env: TestEnv, body: Record<string, unknown>): Promise<string> {
  const res = await env.http().post('/api/leads').set(auth).send(body);
  if (res.status >= 300) throw new Error(`lead not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

export async function putRules(env: TestEnv, rules: Record<string, unknown>): Promise<number> {
  const res = await env.http().put('/api/scoring').set(auth).send(rules);
  if (res.status !== 200) throw new Error(`rules not saved: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.version as number;
}

export async function postEvents(env: TestEnv, events: unknown[]) {
  return env.http().post('/api/events').set(auth).send({ events });
}

/** The sum of a lead's ledger entries in MongoDB. */
export async function ledgerSum(leadId: string): Promise<number> {
  const entries = await ScoreEntry.find({ leadId }, { points: 1 }).lean();
  return entries.reduce((s, e) => s + e.points, 0);
}

export async function storedScore(leadId: string): Promise<number> {
  return (await Lead.findById(leadId, { score: 1 }).lean())?.score ?? 0;
}

/** Waits until the scoring queue has nothing waiting, delayed or active. */
export async function scoringIdle(timeout = 30_000): Promise<void> {
  const q = getQueue('scoring');
  await waitFor(
    async () => {
      const c = await q.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
      return Object.values(c).every((n) => n === 0);
    },
    { timeout, what: 'the scoring queue to drain' },
  );
}

/** Waits for the lead's stored score to be `score` and to equal its ledger's sum. */
export async function waitForScore(leadId: string, score: number, timeout = 20_000): Promise<void> {
  await waitFor(async () => (await storedScore(leadId)) === score && (await ledgerSum(leadId)) === score, {
    timeout,
    what: `lead ${leadId} to score ${score} (stored ${await storedScore(leadId)}, ledger ${await ledgerSum(leadId)})`,
  });
}
