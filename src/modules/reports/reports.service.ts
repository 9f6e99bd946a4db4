import type { PipelineStage } from 'mongoose';
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

/** `stageDates.<stage>` inside the period; all time is every recorded date (an index range). */
function reachedIn(stage: LifecycleStage, p: Period): Record<string, unknown> {
  return {
    [`stageDates.${stage}`]: { $gte: p.from ?? new Date(0), ...(p.to ? { $lt: p.to } : {}) },
    // tombstones of merged leads are not people
    mergedInto: null,
  };
}

const groupField: Record<Exclude<ReportGrouping, 'sequence'>, string> = {
  source: '$source',
  campaign: '$attribution.firstTouch.utm_campaign',
};
const NONE = '(none)';

/**
 * How many leads reached each stage in the period, per group key: one aggregation per stage,
 * each a range scan of the `stageDates.<stage>` index followed by a `$group`.
 */
async function countStages(p: Period, by?: 'source' | 'campaign'): Promise<Map<string, StageCounts>> {
  const out = new Map<string, StageCounts>();
  const all = emptyCounts();
  out.set('', all);
  await Promise.all(
    lifecycleStages.map(async (stage) => {
      const pipeline: PipelineStage[] = [
        { $match: reachedIn(stage, p) },
        { $group: { _id: by ? groupField[by] : null, n: { $sum: 1 } } },
      ];
      for (const row of await Lead.aggregate<{ _id: unknown; n: number }>(pipeline)) {
        all[stage] += row.n;
        if (!by) continue;
        const key = row._id === null || row._id === undefined || row._id === '' ? NONE : String(row._id);
        if (!out.has(key)) out.set(key, emptyCounts());
        out.get(key)![stage] += row.n;
      }
    }),
  );
  return out;
}

/**
 * Per nurture sequence: the funnel of the leads that went through it (a lead in two sequences
 * counts in both). Enrollments give lead → sequences; each stage's leads are read as ids only.
 */
async function countBySequence(p: Period, all: StageCounts): Promise<Map<string, StageCounts>> {
  const sequencesOf = new Map<string, Set<string>>();
  for await (const e of Enrollment.find({}, { leadId: 1, sequenceKey: 1 }).lean().cursor()) {
    const k = String(e.leadId);
    if (!sequencesOf.has(k)) sequencesOf.set(k, new Set());
    sequencesOf.get(k)!.add(e.sequenceKey);
  }
  const out = new Map<string, StageCounts>([['', all]]);
  for (const stage of lifecycleStages) {
    for await (const l of Lead.find(reachedIn(stage, p), { _id: 1 }).lean().cursor()) {
      for (const key of sequencesOf.get(String(l._id)) ?? [NONE]) {
        if (!out.has(key)) out.set(key, emptyCounts());
        out.get(key)![stage] += 1;
      }
    }
  }
  return out;
}

/** Median and p90 days between consecutive stages, for leads reaching the later one in the period. */
async function timeInStages(p: Period): Promise<TimeInStage> {
  const spreads = await Promise.all(
    stagePairs.map(async ([, a, b]) => {
      const rows = await Lead.find(reachedIn(b, p), {
        [`stageDates.${a}`]: 1,
        [`stageDates.${b}`]: 1,
      }).lean<{ stageDates?: Record<string, Date | undefined> }[]>();
      const durations: number[] = [];
      for (const r of rows) {
        const d = r.stageDates ?? {};
        if (d[a] && d[b] && d[b] >= d[a]) durations.push(d[b].getTime() - d[a].getTime());
      }
      return spreadOf(durations);
    }),
  );
  return Object.fromEntries(stagePairs.map(([name], i) => [name, spreads[i]!])) as TimeInStage;
}

/** The funnel subscriber → lead → MQL → SQL → opportunity → customer for a period (API.md). */
export async function funnelReport(q: Pick<FunnelQuery, 'from' | 'to' | 'by'>): Promise<FunnelReport> {
  const p: Period = { from: q.from, to: q.to };
  const [counts, timeInStage] = await Promise.all([
    countStages(p, q.by === 'sequence' ? undefined : q.by),
    timeInStages(p),
  ]);
  const stages = counts.get('')!;
  const grouped = q.by === 'sequence' ? await countBySequence(p, stages) : counts;
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
