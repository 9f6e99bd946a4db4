import { clock } from '../../lib/clock.js';
import type { Runtime } from '../../lib/runtime.js';
import { enqueue, enqueueBulk, queuePrefix } from '../../queues/index.js';
import { Lead } from '../leads/index.js';
import { commitWorks, findLeadsById, type LeadWork } from './ledger.commit.js';
import { lockLeads } from './lead-locks.js';
import { currentRuleset } from './ruleset.service.js';
import { retryDelay } from './scoring.engine.js';
import { decayPoints } from './scoring.logic.js';
import { DecayPass } from './scoring.model.js';

/** Leads per decay chunk: one job, one lock round trip, one bulk insert. */
export const decayChunkSize = 1000;

/**
 * The scheduler's `decay` task: when the rule set decays, lists the leads whose score is above
 * zero (the `score` index serves this) and enqueues them in chunks on the `scoring` queue, which
 * any number of workers share. The pass id keys each lead's decay entry, so a pass writes at most
 * one per lead however often a chunk runs.
 */
export async function startDecayPass(
  passId?: string,
): Promise<{ passId: string | null; leads: number; chunks: number }> {
  const rs = await currentRuleset();
  if (!rs.halfLifeMs) return { passId: null, leads: 0, chunks: 0 };
  const at = clock.now();
  const id = passId ?? at.toISOString();
  const leads = await Lead.find({ score: { $gt: 0 }, mergedInto: null }, { _id: 1 }).lean();
  const jobs = [];
  for (let i = 0; i < leads.length; i += decayChunkSize) {
    const leadIds = leads.slice(i, i + decayChunkSize).map((l) => String(l._id));
    jobs.push({
      payload: { decay: { passId: id, leadIds } },
      opts: { jobId: `decay-${id}-${i / decayChunkSize}` },
    });
  }
  await DecayPass.updateOne(
    { _id: id },
    { $setOnInsert: { at, version: rs.version }, $set: { leads: leads.length, chunks: jobs.length } },
    { upsert: true },
  );
  await enqueueBulk('scoring', jobs);
  return { passId: id, leads: leads.length, chunks: jobs.length };
}

/**
 * One chunk of a decay pass: for each lead (held by this writer) whose score is positive, one
 * negative entry `decay:<leadId>:<passId>` that brings the score to its decayed value since the
 * lead's decay clock. A loss that still rounds to nothing keeps the clock, so it accumulates.
 */
export async function decayChunk(
  rt: Runtime,
  passId: string,
  leadIds: string[],
): Promise<{ decayed: number; deferred: number }> {
  const pass = await DecayPass.findById(passId).lean();
  const rs = await currentRuleset();
  if (!pass || !rs.halfLifeMs) return { decayed: 0, deferred: 0 };
  const locks = await lockLeads(rt.redis, queuePrefix(), leadIds, rt.config.scoringLockMs);
  try {
    if (locks.busy.length) {
      await enqueue('scoring', { decay: { passId, leadIds: locks.busy } }, { delay: retryDelay() });
    }
    const leads = await findLeadsById(locks.held, { score: 1, grade: 1, scoreDecayedAt: 1, mergedInto: 1 });
    const works: LeadWork[] = [];
    for (const lead of leads) {
      const score = lead.score ?? 0;
      if (lead.mergedInto || score <= 0) continue;
      const since = lead.scoreDecayedAt ?? pass.at;
      const points = decayPoints(score, pass.at.getTime() - new Date(since).getTime(), rs.halfLifeMs);
      if (points >= 0) {
        // a lead without a decay clock yet starts one now
        if (!lead.scoreDecayedAt)
          works.push({ lead, ledger: null, insert: [], remove: [], regrade: false, decayed: true });
        continue;
      }
      works.push({
        lead,
        ledger: null,
        remove: [],
        regrade: false,
        decayed: true,
        insert: [
          {
            _id: `decay:${String(lead._id)}:${passId}`,
            leadId: String(lead._id),
            at: pass.at,
            points,
            reason: `decay (half-life ${rs.decay!.halfLife})`,
            kind: 'decay',
            version: rs.version,
          },
        ],
      });
    }
    await commitWorks(works, rs, pass.at);
    return { decayed: works.length, deferred: locks.busy.length };
  } finally {
    await locks.release();
  }
}
