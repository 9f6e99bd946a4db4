import { Lead, lifecycleStages, type LifecycleStage } from '../leads/index.js';
import { Enrollment } from '../sequences/index.js';
import {
  conversionOf,
  emptyCounts,
  spreadOf,
  stagePairs,
  type Conversion,
  type FunnelRow,
  type StageCounts,
  type TimeInStage,
} from './funnel.logic.js';
import type { FunnelQuery, ReportGrouping } from './reports.schemas.js';

export type FunnelReport = {
  period: { from: string | null; to: string | null };
  stages: StageCounts;
  conversion: Conversion;
  timeInStage: TimeInStage;
  groups?: (FunnelRow & { timeInStage?: undefined })[];
};

type Period = { from?: Date; to?: Date };

/**
 * The leads that reached any stage in the period: one query, `$or` of the `stageDates.<stage>`
 * ranges (MongoDB answers it as an index union, one IXSCAN of each `stageDates.<stage>` index);
 * merged leads' tombstones are not people. All time is every recorded date.
 */
function reachedAnyIn(p: Period): Record<string, unknown> {
  const range = { $gte: p.from ?? new Date(0), ...(p.to ? { $lt: p.to } : {}) };
  return { $or: lifecycleStages.map((stage) => ({ [`stageDates.${stage}`]: range })), mergedInto: null };
}

const inPeriod = (d: Date | undefined | null, p: Period): d is Date =>
  !!d && d >= (p.from ?? new Date(0)) && (!p.to || d < p.to);

const NONE = '(none)';
type Reached = {
  _id: unknown;
  source?: string | null;
  attribution?: { firstTouch?: { utm_campaign?: string | null } | null } | null;
  stageDates?: Partial<Record<LifecycleStage, Date | null>>;
};

/** Counts and durations built up from the leads, one at a time. */
type Tally = {
  counts: Map<string, StageCounts>;
  durations: Map<string, number[]>;
  /** by sequence only: each lead and the stages it reached in the period */
  reached: { leadId: string; stages: LifecycleStage[] }[];
};

function groupKeyOf(l: Reached, by: ReportGrouping | undefined): string | undefined {
  if (by === 'source') return l.source || NONE;
  if (by === 'campaign') return l.attribution?.firstTouch?.utm_campaign || NONE;
  return undefined;
}

function add(counts: Map<string, StageCounts>, key: string, stage: LifecycleStage) {
  if (!counts.has(key)) counts.set(key, emptyCounts());
  counts.get(key)![stage] += 1;
}

function tallyLead(t: Tally, l: Reached, p: Period, by: ReportGrouping | undefined) {
  const d = l.stageDates ?? {};
  const key = groupKeyOf(l, by);
  const stages = lifecycleStages.filter((stage) => inPeriod(d[stage], p));
  for (const stage of stages) {
    add(t.counts, '', stage);
    if (key !== undefined) add(t.counts, key, stage);
  }
  for (const [name, a, b] of stagePairs) {
    const from = d[a];
    const to = d[b];
    if (inPeriod(to, p) && from && to >= from) t.durations.get(name)!.push(to.getTime() - from.getTime());
  }
  if (by === 'sequence') t.reached.push({ leadId: String(l._id), stages });
}

/**
 * One streamed pass over the leads that reached a stage in the period (a projection of their
 * stage dates and grouping fields, never whole documents held at once): the counts per stage and
 * group and the durations between stages. On the embedded FerretDB, which scans for a date range,
 * that is one scan of the leads table for the whole report instead of one per stage and pair.
 */
async function tallyLeads(p: Period, by: ReportGrouping | undefined): Promise<Tally> {
  const t: Tally = {
    counts: new Map([['', emptyCounts()]]),
    durations: new Map(stagePairs.map(([name]) => [name, []])),
    reached: [],
  };
  const projection = { stageDates: 1, source: 1, 'attribution.firstTouch.utm_campaign': 1 };
  const cursor = Lead.find(reachedAnyIn(p), projection).lean<Reached>().batchSize(1000).cursor();
  for await (const l of cursor) tallyLead(t, l as Reached, p, by);
  return t;
}

/**
 * Per nurture sequence: the funnel of the leads that went through it (a lead in two sequences
 * counts in both). The period's leads' enrollments, read by `leadId` in batches of 1,000.
 */
async function countBySequence(t: Tally): Promise<Map<string, StageCounts>> {
  const sequencesOf = new Map<string, Set<string>>();
  for (let i = 0; i < t.reached.length; i += 1000) {
    const ids = t.reached.slice(i, i + 1000).map((r) => r.leadId);
    for (const e of await Enrollment.find({ leadId: { $in: ids } }, { leadId: 1, sequenceKey: 1 }).lean()) {
      const k = String(e.leadId);
      if (!sequencesOf.has(k)) sequencesOf.set(k, new Set());
      sequencesOf.get(k)!.add(e.sequenceKey);
    }
  }
  const out = new Map<string, StageCounts>([['', t.counts.get('')!]]);
  for (const r of t.reached) {
    for (const key of sequencesOf.get(r.leadId) ?? [NONE]) for (const stage of r.stages) add(out, key, stage);
  }
  return out;
}

/** The funnel subscriber → lead → MQL → SQL → opportunity → customer for a period (API.md). */
export async function funnelReport(q: Pick<FunnelQuery, 'from' | 'to' | 'by'>): Promise<FunnelReport> {
  const p: Period = { from: q.from, to: q.to };
  const t = await tallyLeads(p, q.by);
  const stages = t.counts.get('')!;
  const grouped = q.by === 'sequence' ? await countBySequence(t) : t.counts;
  const timeInStage = Object.fromEntries(
    stagePairs.map(([name]) => [name, spreadOf(t.durations.get(name)!)]),
  ) as TimeInStage;
  const report: FunnelReport = {
    period: { from: q.from?.toISOString() ?? null, to: q.to?.toISOString() ?? null },
    stages,
    conversion: conversionOf(stages),
    timeInStage,
  };
  if (q.by) {
    report.groups = [...grouped.entries()]
      .filter(([k]) => k !== '')
      .map(([key, s]) => ({ key, stages: s, conversion: conversionOf(s) }))
      .sort((x, y) => y.stages.lead - x.stages.lead || x.key.localeCompare(y.key));
  }
  return report;
}
