import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import { enqueue } from '../../queues/index.js';
import { Lead } from '../leads/index.js';
import { currentRuleset } from './ruleset.service.js';
import { resyncLeads } from './scoring.engine.js';
import { RescoreRun } from './scoring.model.js';

/** Leads rescored per checkpoint. */
export const rescorePageSize = 200;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Rescores every lead under rule-set `version` from its event history, a page of lead ids at a
 * time in id order; the cursor and count are saved after each page, so a run that crashed (its
 * job retried, or re-enqueued by the reconciler) resumes after the last saved page. A newer
 * version supersedes the run (its own run covers every lead).
 */
export async function runRescore(
  rt: Runtime,
  version: number,
  log?: Logger,
): Promise<{ status: string; done: number }> {
  for (;;) {
    const run = await RescoreRun.findById(version).lean();
    if (!run || run.status !== 'running') return { status: run?.status ?? 'missing', done: run?.done ?? 0 };
    const rs = await currentRuleset();
    if (rs.version !== version) {
      await RescoreRun.updateOne(
        { _id: version },
        { $set: { status: 'superseded', finishedAt: clock.now() } },
      );
      return { status: 'superseded', done: run.done };
    }
    const filter: Record<string, unknown> = { mergedInto: null };
    if (run.cursor) filter._id = { $gt: new Types.ObjectId(run.cursor) };
    const page = await Lead.find(filter, { _id: 1 }).sort({ _id: 1 }).limit(rescorePageSize).lean();
    if (page.length === 0) {
      await RescoreRun.updateOne(
        { _id: version },
        { $set: { status: 'completed', finishedAt: clock.now(), total: Math.max(run.total, run.done) } },
      );
      return { status: 'completed', done: run.done };
    }
    let pending = page.map((l) => String(l._id));
    for (let tries = 0; pending.length; tries++) {
      pending = await resyncLeads(rt, pending, { replayAll: true, rs });
      if (pending.length) await pause(Math.min(2000, 100 * (tries + 1)));
    }
    const done = run.done + page.length;
    await RescoreRun.updateOne(
      { _id: version },
      { $set: { cursor: String(page[page.length - 1]!._id), done, total: Math.max(run.total, done) } },
    );
    log?.debug({ version, done }, 'rescoring');
  }
}

/** Restarts a rescoring run whose worker stopped (no checkpoint for two minutes). */
export async function resumeStalledRescores(): Promise<number> {
  // real time, not the injected clock: this is about a stopped process
  const stale = new Date(Date.now() - 120_000);
  const runs = await RescoreRun.find({ status: 'running', updatedAt: { $lt: stale } }, { _id: 1 }).lean();
  const minute = Math.floor(Date.now() / 60_000);
  for (const r of runs)
    await enqueue('scoring', { rescore: { version: r._id } }, { jobId: `rescore-${r._id}-${minute}` });
  return runs.length;
}
