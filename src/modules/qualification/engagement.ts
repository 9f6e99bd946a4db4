import type { LeadDoc } from '../leads/index.js';
import { ScoreEntry } from '../scoring/index.js';
import { HandoffRequest } from './handoff-request.model.js';

export type ScoreReason = { reason: string; points: number; ruleId?: string };

type Entry = { points: number; reason: string; kind: string; ruleId?: string | null; at: Date };

/**
 * The top reasons of a lead's score (the ledger's awards summed per rule, largest first), for the
 * handoff request and the sales notification. A lead without ledger entries (a score written
 * before scoring ran, or by an import of old data) carries its score alone: an empty list.
 */
export async function topScoreReasons(leadId: string, limit = 5): Promise<ScoreReason[]> {
  const entries = await ScoreEntry.find({ leadId }, { points: 1, reason: 1, kind: 1, ruleId: 1 }).lean<
    Entry[]
  >();
  const byRule = new Map<string, ScoreReason>();
  for (const e of entries) {
    if (e.kind !== 'award') continue;
    const key = e.ruleId ?? e.reason;
    const r = byRule.get(key) ?? { reason: e.reason, points: 0, ...(e.ruleId ? { ruleId: e.ruleId } : {}) };
    r.points += e.points;
    byRule.set(key, r);
  }
  return [...byRule.values()]
    .filter((r) => r.points > 0)
    .sort((a, b) => b.points - a.points)
    .slice(0, limit);
}

/**
 * Whether a recycled lead (its handoff was rejected at `since`) engaged again: a positive ledger
 * entry after `since` (the scoring area's record of engagement). Leads scored outside the ledger
 * also count their activity (`lastActivityAt`: a new submission or import) after `since`, or a
 * score above the one they had when they last qualified.
 */
export async function engagedSince(lead: LeadDoc, since: Date): Promise<boolean> {
  if (await ScoreEntry.exists({ leadId: lead._id, at: { $gt: since }, points: { $gt: 0 } })) return true;
  if (lead.lastActivityAt && lead.lastActivityAt > since) return true;
  const last = (lead.qualification as { requestId?: string } | null)?.requestId;
  if (!last) return false;
  const request = await HandoffRequest.findById(last, { reasons: 1 }).lean();
  return !!request && (lead.score ?? 0) > (request.reasons?.score ?? 0);
}
