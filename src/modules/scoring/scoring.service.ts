import { clock } from '../../lib/clock.js';
import { enqueue, enqueueBulk } from '../../queues/index.js';
import { LeadEvent, minutesBetween, unscoredEventTypes } from '../events/index.js';
import { resolveLead } from '../leads/index.js';
import type { LedgerEntry } from './scoring.logic.js';
import { ScoredMark, ScoreEntry } from './scoring.model.js';
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

/** Scorable events recorded from half an hour to `olderThanMs` before `now`: what the reconciler reads. */
export function recentEventsFilter(now: number, olderThanMs: number) {
  const [from, to] = [new Date(now - 30 * 60_000), new Date(now - olderThanMs)];
  return {
    // the minutes select (an index read, on the embedded default too), the times trim the first
    // and last minute
    createdMinute: { $in: minutesBetween(from, to) },
    createdAt: { $gte: from, $lt: to },
    type: { $nin: [...unscoredEventTypes] },
  };
}

/**
 * The reconciler's part for scoring: events recorded but never handed to a scoring job (Redis was
 * down, or a process stopped between the insert and the enqueue), and stalled rescoring runs.
 */
export async function reconcileScoring(
  opts: { olderThanMs?: number } = {},
): Promise<{ events: number; rescores: number }> {
  // real time: createdAt is written by the process that recorded the event
  const recent = await LeadEvent.find(recentEventsFilter(Date.now(), opts.olderThanMs ?? 2 * 60_000), {
    _id: 1,
  })
    .limit(20_000)
    .lean();
  const ids = recent.map((e) => String(e._id));
  const marked = ids.length
    ? new Set((await ScoredMark.find({ _id: { $in: ids } }, { _id: 1 }).lean()).map((m) => m._id))
    : new Set<string>();
  const missing = ids.filter((id) => !marked.has(id));
  const jobs = [];
  for (let i = 0; i < missing.length; i += 1000)
    jobs.push({ payload: { eventIds: missing.slice(i, i + 1000) } });
  await enqueueBulk('scoring', jobs);
  return { events: missing.length, rescores: await resumeStalledRescores() };
}

/** The cleanup task's part: marks older than a day (the reconciler looks back 30 minutes). */
export async function purgeScoredMarks(): Promise<number> {
  const r = await ScoredMark.deleteMany({ at: { $lt: new Date(clock.now().getTime() - 86_400_000) } });
  return r.deletedCount ?? 0;
}
