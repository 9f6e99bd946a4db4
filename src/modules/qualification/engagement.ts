import type { LeadDoc } from '../leads/index.js';
import { HandoffRequest } from './handoff-request.model.js';

export type ScoreReason = { reason: string; points: number; ruleId?: string };

/**
 * The top reasons of a lead's score, for the handoff request. The scoring area's ledger is their
 * source; until a lead has ledger entries the request carries the score alone (an empty list).
 */
export async function topScoreReasons(_leadId: string): Promise<ScoreReason[]> {
  return [];
}

/**
 * Whether a recycled lead (its handoff was rejected at `since`) engaged again: its activity
 * (`lastActivityAt`: a new submission, an import, an event) is later than `since`, or its score
 * rose above the score it had when it last qualified.
 */
export async function engagedSince(lead: LeadDoc, since: Date): Promise<boolean> {
  if (lead.lastActivityAt && lead.lastActivityAt > since) return true;
  const last = (lead.qualification as { requestId?: string } | null)?.requestId;
  if (!last) return false;
  const request = await HandoffRequest.findById(last, { reasons: 1 }).lean();
  return !!request && (lead.score ?? 0) > (request.reasons?.score ?? 0);
}
