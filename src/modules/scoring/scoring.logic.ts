import { maxMatchInput, type FitRule, type ScoringRule } from './scoring.schemas.js';

/** Pure scoring logic: which rules award what, caps, grades and decay. No I/O here. */

export type Ruleset = {
  version: number;
  rules: ScoringRule[];
  fit: FitRule[];
  decay: { halfLife: string } | null;
  cap: number | null;
  /** halfLife in milliseconds (derived) */
  halfLifeMs: number | null;
};

export type ScoredEvent = {
  _id: string;
  type: string;
  occurredAt: Date;
  properties: Record<string, unknown>;
};

/** One ledger entry (the `scoreentries` collection); `_id` is deterministic, so it is written once. */
export type LedgerEntry = {
  _id: string;
  leadId: string;
  at: Date;
  points: number;
  reason: string;
  kind: 'award' | 'decay';
  version: number;
  ruleId?: string | null;
  eventId?: string | null;
  /** UTC day of `at` (maxPerDay) */
  day?: string | null;
};

export function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

export function ruleMatches(rule: ScoringRule, e: ScoredEvent): boolean {
  if (rule.event !== e.type) return false;
  for (const [k, v] of Object.entries(rule.where ?? {})) {
    if (!Object.hasOwn(e.properties ?? {}, k) || e.properties[k] !== v) return false;
  }
  return true;
}

function describe(rule: ScoringRule): string {
  const where = Object.entries(rule.where ?? {})
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
  return `${rule.id}: ${rule.event}${where ? ` (${where})` : ''}`;
}

/** Running counters of one lead's ledger under one rule-set version. */
export type LedgerState = {
  sum: number;
  awarded: Set<string>;
  perDay: Map<string, number>;
  total: Map<string, number>;
};

export function ledgerState(
  entries: Pick<LedgerEntry, 'points' | 'ruleId' | 'eventId' | 'day' | 'version' | 'kind'>[],
  version: number,
): LedgerState {
  const s: LedgerState = { sum: 0, awarded: new Set(), perDay: new Map(), total: new Map() };
  for (const e of entries) {
    s.sum += e.points;
    if (e.kind !== 'award' || e.version !== version || !e.ruleId) continue;
    s.awarded.add(`${e.eventId}|${e.ruleId}`);
    const dk = `${e.ruleId}|${e.day}`;
    s.perDay.set(dk, (s.perDay.get(dk) ?? 0) + 1);
    s.total.set(e.ruleId, (s.total.get(e.ruleId) ?? 0) + 1);
  }
  return s;
}

/**
 * The award entries `events` earn for one lead, given its ledger so far (`state`, updated in
 * place). An award's `_id` is its cap slot when the rule is capped (`v:lead:rule:total:n`, or
 * `v:lead:rule:day:n`), else `v:event:rule`: two writers can never both fill one slot or award one
 * event twice. The overall cap trims an award to what is left under it.
 */
export function planAwards(
  rs: Ruleset,
  leadId: string,
  events: ScoredEvent[],
  state: LedgerState,
): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  const sorted = [...events].sort(
    (a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || (a._id < b._id ? -1 : 1),
  );
  for (const e of sorted) {
    for (const rule of rs.rules) {
      if (!ruleMatches(rule, e)) continue;
      const awardKey = `${e._id}|${rule.id}`;
      if (state.awarded.has(awardKey)) continue;
      const day = utcDay(e.occurredAt);
      const dk = `${rule.id}|${day}`;
      const dayCount = state.perDay.get(dk) ?? 0;
      const total = state.total.get(rule.id) ?? 0;
      if (rule.maxTotal !== undefined && total >= rule.maxTotal) continue;
      if (rule.maxPerDay !== undefined && dayCount >= rule.maxPerDay) continue;
      let points = rule.points;
      if (rs.cap !== null && points > 0) points = Math.min(points, rs.cap - state.sum);
      if (points === 0 || (rule.points > 0 && points < 0)) continue;
      const _id =
        rule.maxTotal !== undefined
          ? `${rs.version}:${leadId}:${rule.id}:total:${total}`
          : rule.maxPerDay !== undefined
            ? `${rs.version}:${leadId}:${rule.id}:${day}:${dayCount}`
            : `${rs.version}:${e._id}:${rule.id}`;
      out.push({
        _id,
        leadId,
        at: e.occurredAt,
        points,
        reason: describe(rule),
        kind: 'award',
        version: rs.version,
        ruleId: rule.id,
        eventId: e._id,
        day,
      });
      state.awarded.add(awardKey);
      state.perDay.set(dk, dayCount + 1);
      state.total.set(rule.id, total + 1);
      state.sum += points;
    }
  }
  return out;
}

export type Grade = 'A' | 'B' | 'C' | 'D' | 'F';

/** The letter for a share of the attainable fit points (API.md). */
export function gradeFor(share: number): Grade {
  if (share >= 0.8) return 'A';
  if (share >= 0.6) return 'B';
  if (share >= 0.4) return 'C';
  if (share >= 0.2) return 'D';
  return 'F';
}

function fieldValue(lead: Record<string, unknown>, field: string): unknown {
  if (field.startsWith('attributes.'))
    return ((lead.attributes ?? {}) as Record<string, unknown>)[field.slice(11)];
  return lead[field];
}

const compiled = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(pattern);
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

export function fitMatches(rule: FitRule, lead: Record<string, unknown>): boolean {
  const v = fieldValue(lead, rule.field);
  if (v === undefined || v === null) return rule.equals === null;
  if (rule.equals !== undefined)
    return v === rule.equals || (typeof v === 'string' && String(rule.equals) === v);
  if (rule.in !== undefined)
    return rule.in.some((x) => x === v || (typeof v === 'string' && String(x) === v));
  if (rule.matches !== undefined) return regex(rule.matches).test(String(v).slice(0, maxMatchInput));
  return false;
}

/** The lead's grade: share of attainable fit points as a letter; null without fit rules. */
export function fitGrade(fit: FitRule[], lead: Record<string, unknown>): Grade | null {
  if (fit.length === 0) return null;
  const attainable = fit.reduce((s, f) => s + f.points, 0);
  const got = fit.reduce((s, f) => s + (fitMatches(f, lead) ? f.points : 0), 0);
  return gradeFor(got / attainable);
}

/**
 * Decay of a positive score over `elapsedMs` with a half-life: the (negative, whole) points that
 * bring it to round(score · 0.5^(elapsed/halfLife)); 0 while the loss rounds to nothing (the
 * caller then keeps the older start, so small scores still decay over time).
 */
export function decayPoints(score: number, elapsedMs: number, halfLifeMs: number): number {
  if (score <= 0 || elapsedMs <= 0) return 0;
  const kept = Math.round(score * Math.pow(0.5, elapsedMs / halfLifeMs));
  return kept - score;
}

/**
 * Rescoring: the whole ledger one lead's event history earns under `rs`, as of `now`: the awards
 * in time order (caps and the overall cap as they would have applied), and, with decay, one entry
 * for the decay those awards went through between them and `now` (the score decays continuously
 * while positive).
 */
export function replayLedger(rs: Ruleset, leadId: string, events: ScoredEvent[], now: Date): LedgerEntry[] {
  const state = ledgerState([], rs.version);
  const awards = planAwards(rs, leadId, events, state);
  if (!rs.halfLifeMs || awards.length === 0) return awards;
  let s = 0;
  let t = awards[0]!.at.getTime();
  for (const a of awards) {
    if (s > 0) s *= Math.pow(0.5, (a.at.getTime() - t) / rs.halfLifeMs);
    s += a.points;
    t = a.at.getTime();
  }
  if (s > 0) s *= Math.pow(0.5, (now.getTime() - t) / rs.halfLifeMs);
  const sum = awards.reduce((x, a) => x + a.points, 0);
  const decay = Math.round(Math.min(s, sum)) - sum;
  if (decay >= 0 || sum <= 0) return awards;
  return [
    ...awards,
    {
      _id: `decay:${leadId}:rescore-${rs.version}`,
      leadId,
      at: now,
      points: decay,
      reason: `decay (half-life ${rs.decay!.halfLife}) while rescoring to version ${rs.version}`,
      kind: 'decay',
      version: rs.version,
    },
  ];
}
