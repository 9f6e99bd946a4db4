import { csvCell } from '../../lib/csv.js';
import { lifecycleStages, type LifecycleStage } from '../leads/index.js';

export type StageCounts = Record<LifecycleStage, number>;
export type Conversion = {
  leadToMql: number;
  mqlToSql: number;
  sqlToOpportunity: number;
  opportunityToCustomer: number;
  leadToOpportunity: number;
};
export type Spread = { medianDays: number | null; p90Days: number | null; count: number };
export type TimeInStage = {
  leadToMql: Spread;
  mqlToSql: Spread;
  sqlToOpportunity: Spread;
  opportunityToCustomer: Spread;
};

/** The stage pairs whose durations the report measures, in funnel order. */
export const stagePairs = [
  ['leadToMql', 'lead', 'mql'],
  ['mqlToSql', 'mql', 'sql'],
  ['sqlToOpportunity', 'sql', 'opportunity'],
  ['opportunityToCustomer', 'opportunity', 'customer'],
] as const satisfies readonly (readonly [keyof TimeInStage, LifecycleStage, LifecycleStage])[];

export function emptyCounts(): StageCounts {
  return Object.fromEntries(lifecycleStages.map((s) => [s, 0])) as StageCounts;
}

const rate = (later: number, earlier: number) => (earlier > 0 ? later / earlier : 0);

/** Each rate is the later stage's count over the earlier one's (0 when the earlier is empty). */
export function conversionOf(c: StageCounts): Conversion {
  return {
    leadToMql: rate(c.mql, c.lead),
    mqlToSql: rate(c.sql, c.mql),
    sqlToOpportunity: rate(c.opportunity, c.sql),
    opportunityToCustomer: rate(c.customer, c.opportunity),
    leadToOpportunity: rate(c.opportunity, c.lead),
  };
}

/** The nearest-rank percentile (p in 0..100) of sorted values; null for none. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

const DAY = 86_400_000;
const round2 = (n: number | null) => (n === null ? null : Math.round(n * 100) / 100);

/** Median and p90, in days (two decimals), of durations given in milliseconds. */
export function spreadOf(durationsMs: number[]): Spread {
  const days = durationsMs.map((d) => d / DAY).sort((a, b) => a - b);
  return {
    medianDays: round2(percentile(days, 50)),
    p90Days: round2(percentile(days, 90)),
    count: days.length,
  };
}

export type FunnelRow = { key: string; stages: StageCounts; conversion: Conversion };

/** The report as CSV: one row for everything, then one per group. */
export function funnelCsv(rows: FunnelRow[]): string {
  const convKeys = Object.keys(conversionOf(emptyCounts())) as (keyof Conversion)[];
  const header = ['group', ...lifecycleStages, ...convKeys];
  const lines = rows.map((r) =>
    [
      csvCell(r.key),
      ...lifecycleStages.map((s) => csvCell(r.stages[s])),
      ...convKeys.map((k) => csvCell(Number(r.conversion[k].toFixed(4)))),
    ].join(','),
  );
  return `${[header.join(','), ...lines].join('\r\n')}\r\n`;
}
