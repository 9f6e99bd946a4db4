import { clock } from '../../lib/clock.js';
import { enqueue, enqueueBulk } from '../../queues/index.js';
import { LeadEvent, minutesBetween, unscoredEventTypes } from '../events/index.js';
import { resolveLead } from '../leads/index.js';
import type { LedgerEntry } from './scoring.logic.js';
import { ScoredMark, ScoreEntry, ScoringReconcileCursor } from './scoring.model.js';
import { resumeStalledRescores } from './scoring.rescore.js';

/**
 * GET /api/leads/:id/score: the ledger that explains the score, oldest first, and its biggest
 * reasons (points per rule). `score` is the ledger's sum; a stored score that disagrees (a write
 * another process overwrote) is repaired in the background.
 */
export async function getLeadScore(id: string) {
  const lead = await resolveLead(id);
  const entries = await ScoreEntry.find({ leadId: lead._id }).sort({ at: 1, _id: 1 }).lean<LedgerEntry[]>();
  const score = entries.reduce((s, e) => s + e.points, 0);
  if (score !== (lead.score ?? 0)) await enqueue('scoring', { leadIds: [String(lead._id)] });
  const byReason = new Map<
    string,
    { reason: string; ruleId: string | null; points: number; count: number }
  >();
  for (const e of entries) {
    const k = e.kind === 'decay' ? 'decay' : (e.ruleId ?? e.reason);
    const r = byReason.get(k) ?? {
      reason: e.kind === 'decay' ? 'decay' : e.reason,
      ruleId: e.kind === 'decay' ? null : (e.ruleId ?? null),
      points: 0,
      count: 0,
    };
    r.points += e.points;
    r.count += 1;
    byReason.set(k, r);
  }
  return {
    leadId: String(lead._id),
    score,
    grade: lead.grade ?? null,
    reasons: [...byReason.values()].sort((a, b) => b.points - a.points),
    ledger: entries.map((e) => ({
      at: e.at,
      points: e.points,
      reason: e.reason,
      kind: e.kind,
      version: e.version,
      ...(e.ruleId ? { ruleId: e.ruleId } : {}),
      ...(e.eventId ? { eventId: e.eventId } : {}),
    })),
  };
}

/** Scorable events recorded in one minute (`createdMinute`, an index read on every server). */
export function minuteEventsFilter(minute: string) {
  return { createdMinute: minute, type: { $nin: [...unscoredEventTypes] } };
}

const lookBackMs = 30 * 60_000;

/**
 * The reconciler's part for scoring: events recorded but never handed to a scoring job (Redis was
 * down, or a process stopped between the insert and the enqueue), and stalled rescoring runs.
 * Events are checked minute by minute from where the last run got to (at most half an hour back)
 * until `olderThanMs` ago; the cursor moves past a minute once all its events have their mark.
 */
export async function reconcileScoring(
  opts: { olderThanMs?: number } = {},
): Promise<{ events: number; rescores: number }> {
  // real time: createdAt is written by the process that recorded the event
  const now = Date.now();
  const to = new Date(now - (opts.olderThanMs ?? 2 * 60_000));
  const cursor = await ScoringReconcileCursor.findById('events').lean();
  const from = new Date(Math.max(now - lookBackMs, cursor?.verifiedBefore.getTime() ?? 0));
  let verifiedBefore: Date | null = null;
  let stuck = false;
  let missingCount = 0;
  for (const minute of minutesBetween(from, to)) {
    const events = (
      await LeadEvent.find(minuteEventsFilter(minute), { _id: 1, createdAt: 1 }).lean<
        { _id: unknown; createdAt: Date }[]
      >()
    ).filter((e) => e.createdAt >= from && e.createdAt < to);
    const ids = events.map((e) => String(e._id));
    const marked = new Set<string>();
    for (let i = 0; i < ids.length; i += 1000) {
      const found = await ScoredMark.find({ _id: { $in: ids.slice(i, i + 1000) } }, { _id: 1 }).lean();
      for (const m of found) marked.add(m._id);
    }
    const missing = events.filter((e) => !marked.has(String(e._id)));
    const jobs = [];
    for (let i = 0; i < missing.length; i += 1000)
      jobs.push({ payload: { eventIds: missing.slice(i, i + 1000).map((e) => String(e._id)) } });
    await enqueueBulk('scoring', jobs);
    missingCount += missing.length;
    if (missing.length) {
      // the next run starts at the first event still unmarked (scored by then, normally)
      if (!stuck) verifiedBefore = new Date(Math.min(...missing.map((e) => e.createdAt.getTime())));
      stuck = true;
    }
  }
  if (!stuck) verifiedBefore = to;
  if (verifiedBefore && verifiedBefore > (cursor?.verifiedBefore ?? new Date(0)))
    await ScoringReconcileCursor.updateOne({ _id: 'events' }, { $set: { verifiedBefore } }, { upsert: true });
  return { events: missingCount, rescores: await resumeStalledRescores() };
}

/** The cleanup task's part: marks older than a day (the reconciler looks back 30 minutes). */
export async function purgeScoredMarks(): Promise<number> {
  const r = await ScoredMark.deleteMany({ at: { $lt: new Date(clock.now().getTime() - 86_400_000) } });
  return r.deletedCount ?? 0;
}
