// The soak's pure parts: the growth verdict, the table and the SVG chart, all from the samples.
import { markdownTable } from '../system/system.js';

/** One sampling interval of the soak (rates are per second over the interval). */
export type Sample = {
  /** seconds since the soak began, at the end of the interval */
  t: number;
  /** requests answered per second (any status) */
  requests: number;
  /** answers other than 2xx in the interval, by status (`0`: no answer; `shed`: not sent, too many in flight) */
  errors: Record<string, number>;
  p50: number;
  p99: number;
  /** emails the SMTP server received per second */
  emails: number;
  /** ledger entries (events scored) and handoffs (conversions) stored so far */
  scored: number;
  conversions: number;
  /** each queue's waiting + active + delayed + prioritized */
  queues: Record<string, number>;
  /** all queues: waiting + active + delayed + prioritized, and waiting + active + prioritized only */
  depth: number;
  backlog: number;
  /** completed and failed jobs BullMQ keeps in Redis (trimmed by age and count: see src/queues) */
  retained: number;
  /** resident set size in MB, by process (PostgreSQL: all its processes) */
  rssMb: Record<string, number>;
  /** the machine's 1-minute load average at the sample */
  load1: number;
};

export type Finding = {
  series: string;
  middle: number;
  last: number;
  /** last / middle - 1 */
  growth: number;
  /** the least-squares slope over the last third is positive */
  rising: boolean;
  grew: boolean;
  note: string;
};

export type Limits = {
  /** RSS growth (last third over middle third) that counts, when still rising */
  rssGrowth: number;
  /** queue depth growth that counts (relative, plus `depthSlack` jobs), when still rising */
  depthGrowth: number;
  depthSlack: number;
  /** the backlog (waiting + active) must come down to this at least once in the last third */
  backlogFloor: number;
  /** median latency growth that counts (relative, plus `latencySlackMs`), when still rising */
  latencyGrowth: number;
  latencySlackMs: number;
};
export const defaultLimits: Limits = {
  rssGrowth: 0.2,
  depthGrowth: 0.5,
  depthSlack: 20,
  backlogFloor: 50,
  latencyGrowth: 0.3,
  latencySlackMs: 50,
};

export type Verdict = {
  findings: Finding[];
  /** server errors (5xx) answered during the run */
  serverErrors: number;
  grew: boolean;
  ok: boolean;
};

const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);

/** least-squares slope of ys over xs */
export function slope(xs: number[], ys: number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i]! - my);
    den += (x - mx) ** 2;
  });
  return den === 0 ? 0 : num / den;
}

/** the samples in thirds by position: warm-up, middle, last (each at least one sample) */
export function thirds<T>(xs: T[]): [T[], T[], T[]] {
  const n = xs.length;
  const a = Math.floor(n / 3);
  const b = Math.floor((2 * n) / 3);
  return [xs.slice(0, a), xs.slice(a, b), xs.slice(b)];
}

function judge(
  series: string,
  samples: Sample[],
  value: (s: Sample) => number,
  grewIf: (m: number, l: number) => boolean,
): Finding {
  const [, mid, last] = thirds(samples);
  const m = mean(mid.map(value));
  const l = mean(last.map(value));
  const rising =
    slope(
      last.map((s) => s.t),
      last.map(value),
    ) > 0;
  const grew = mid.length > 0 && rising && grewIf(m, l);
  const growth = m === 0 ? (l === 0 ? 0 : Infinity) : l / m - 1;
  const note = grew ? `grew ${pct(growth)} and still rising` : `${pct(growth)}${rising ? ', rising' : ''}`;
  return { series, middle: m, last: l, growth, rising, grew, note };
}

/**
 * No growth: after the first third (warm-up), each process's RSS in the last third is at most
 * `rssGrowth` over the middle third's or no longer rising; the queue depth likewise (relative
 * `depthGrowth` plus `depthSlack` jobs) and the median latency (`latencyGrowth` plus
 * `latencySlackMs`), and the backlog comes down to `backlogFloor` at least once in the last third.
 * Any 5xx fails the run as well.
 */
export function verdict(samples: Sample[], limits: Limits = defaultLimits): Verdict {
  const findings: Finding[] = [];
  const names = Object.keys(samples[0]?.rssMb ?? {});
  for (const name of names) {
    findings.push(
      judge(
        `RSS ${name}`,
        samples,
        (s) => s.rssMb[name] ?? 0,
        (m, l) => l > m * (1 + limits.rssGrowth),
      ),
    );
  }
  findings.push(
    judge(
      'queue depth',
      samples,
      (s) => s.depth,
      (m, l) => l > m * (1 + limits.depthGrowth) + limits.depthSlack,
    ),
    // the answers slowing down as the data grows (a query that reads more each minute)
    judge(
      'latency p50 (ms)',
      samples,
      (s) => s.p50,
      (m, l) => l > m * (1 + limits.latencyGrowth) + limits.latencySlackMs,
    ),
  );
  const last = thirds(samples)[2];
  const floor = Math.min(...last.map((s) => s.backlog));
  findings.push({
    series: 'backlog (waiting + active)',
    middle: mean(thirds(samples)[1].map((s) => s.backlog)),
    last: mean(last.map((s) => s.backlog)),
    growth: 0,
    rising:
      slope(
        last.map((s) => s.t),
        last.map((s) => s.backlog),
      ) > 0,
    grew: last.length > 0 && floor > limits.backlogFloor,
    note: `lowest in the last third ${floor}${floor > limits.backlogFloor ? ` (never down to ${limits.backlogFloor})` : ''}`,
  });
  const serverErrors = samples.reduce(
    (n, s) => n + Object.entries(s.errors).reduce((m, [k, v]) => m + (/^5\d\d$/.test(k) ? v : 0), 0),
    0,
  );
  const grew = findings.some((f) => f.grew);
  return { findings, serverErrors, grew, ok: !grew && serverErrors === 0 };
}

const pct = (g: number) => (Number.isFinite(g) ? `${g >= 0 ? '+' : ''}${(g * 100).toFixed(1)}%` : 'from 0');
const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

/** samples merged per `bucket` seconds: rates and latencies averaged, depth at its highest, RSS last */
export function buckets(samples: Sample[], bucket: number): Sample[] {
  const groups = new Map<number, Sample[]>();
  for (const s of samples) {
    const k = Math.ceil(s.t / bucket - 1e-9);
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  return [...groups.values()].map((g) => {
    const errors: Record<string, number> = {};
    for (const s of g) for (const [k, v] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + v;
    const lastOf = g.at(-1)!;
    return {
      ...lastOf,
      requests: mean(g.map((s) => s.requests)),
      errors,
      p50: mean(g.map((s) => s.p50)),
      p99: Math.max(...g.map((s) => s.p99)),
      emails: mean(g.map((s) => s.emails)),
      depth: Math.max(...g.map((s) => s.depth)),
      backlog: Math.max(...g.map((s) => s.backlog)),
    };
  });
}

/**
 * The table: one row a sample, or one row a minute when there are more than 20 samples (rates
 * averaged over the minute, p99 and queue depth the minute's highest, RSS at the minute's end).
 */
export function samplesTable(samples: Sample[]): string {
  const rows = samples.length > 20 ? buckets(samples, 60) : samples;
  const procs = Object.keys(samples[0]?.rssMb ?? {});
  const header = [
    't (s)',
    'req/s',
    'non-2xx',
    'p50 ms',
    'p99 ms',
    'emails/s',
    'scored',
    'conversions',
    'queue depth',
    'backlog',
    ...procs.map((p) => `${p} MB`),
  ];
  const body = rows.map((s) => [
    String(Math.round(s.t)),
    fmt(s.requests),
    Object.entries(s.errors)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || '0',
    fmt(s.p50, 0),
    fmt(s.p99, 0),
    fmt(s.emails),
    String(s.scored),
    String(s.conversions),
    String(s.depth),
    String(s.backlog),
    ...procs.map((p) => fmt(s.rssMb[p] ?? NaN, 0)),
  ]);
  return markdownTable([header, ...body]);
}

export function verdictTable(v: Verdict): string {
  return markdownTable([
    ['series', 'middle third', 'last third', 'change', 'grew'],
    ...v.findings.map((f) => [f.series, fmt(f.middle), fmt(f.last), f.note, f.grew ? 'YES' : 'no']),
  ]);
}

/** What the report says about the run besides the samples. */
export type RunInfo = {
  date: string;
  machine: string;
  loadStart: number[];
  loadEnd: number[];
  command: string;
  /** how the rate was chosen */
  capacity: string;
  /** the arrival rate: ticks per second, and what one tick sends */
  rate: number;
  tick: string;
  minutes: number;
  sampleSeconds: number;
  totals: string[];
  /** seconds after the load stopped until the backlog, then every queue, was empty (null: not within the limit) */
  drainBacklog: number | null;
  drainAll: number | null;
  drainLimit: number;
  restarts: Record<string, number>;
};

/** Adds the end-of-run checks (drained, no restarts) to the verdict. */
export function finalVerdict(
  v: Verdict,
  info: Pick<RunInfo, 'drainAll' | 'drainBacklog' | 'restarts'>,
): Verdict {
  const restarted = Object.entries(info.restarts).filter(([, n]) => n > 0);
  const findings = [
    ...v.findings,
    {
      series: 'queues drain after the load',
      middle: NaN,
      last: NaN,
      growth: 0,
      rising: false,
      grew: info.drainAll === null,
      note:
        info.drainAll === null
          ? `not empty in time (backlog ${info.drainBacklog === null ? 'neither' : `empty after ${info.drainBacklog} s`})`
          : `backlog empty after ${info.drainBacklog} s, every queue after ${info.drainAll} s`,
    },
    {
      series: 'process restarts',
      middle: NaN,
      last: NaN,
      growth: 0,
      rising: false,
      grew: restarted.length > 0,
      note: restarted.length ? restarted.map(([k, n]) => `${k} ${n}`).join(', ') : 'none',
    },
  ];
  const grew = findings.some((f) => f.grew);
  return { ...v, findings, grew, ok: !grew && v.serverErrors === 0 };
}

const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' / ');

export function reportMarkdown(info: RunInfo, samples: Sample[], v: Verdict): string {
  const head = markdownTable([
    ['', ''],
    ['date', info.date],
    ['machine', info.machine],
    ['load average (1/5/15 min)', `${load(info.loadStart)} at the start, ${load(info.loadEnd)} at the end`],
    ['command', `\`${info.command}\``],
    ['capacity', info.capacity],
    ['arrival rate', `${info.rate.toFixed(2)} ticks/s (open loop); one tick: ${info.tick}`],
    ['duration', `${info.minutes} min, a sample every ${info.sampleSeconds} s`],
  ]);
  const verdictLine = v.ok
    ? 'no growth, no 5xx'
    : [
        v.grew
          ? `growth or a stuck queue: ${v.findings
              .filter((f) => f.grew)
              .map((f) => f.series)
              .join(', ')}`
          : '',
        v.serverErrors ? `${v.serverErrors} answers 5xx` : '',
      ]
        .filter(Boolean)
        .join('; ');
  return `# Soak ${info.date}

${head}

## Samples

${samplesTable(samples)}

## Totals

${info.totals.map((t) => `- ${t}`).join('\n')}

## Verdict: ${verdictLine}

Growth is judged after the first third (warm-up): the mean of the last third against the middle
third's, counted only while the last third is still rising.

${verdictTable(v)}
`;
}
