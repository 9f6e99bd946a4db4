import { describe, expect, it } from 'vitest';
import { niceTicks, soakSvg } from '../../scripts/soak/chart.js';
import {
  buckets,
  finalVerdict,
  reportMarkdown,
  samplesTable,
  slope,
  thirds,
  verdict,
  type RunInfo,
  type Sample,
} from '../../scripts/soak/report.js';

/** n samples 10 s apart; `api(i)` and `depth(i)` give the API's RSS and the queue depth */
function series(n: number, api: (i: number) => number, depth: (i: number) => number = () => 5): Sample[] {
  return Array.from({ length: n }, (_, i) => ({
    t: (i + 1) * 10,
    requests: 20 + (i % 3),
    errors: {},
    p50: 40,
    p99: 120 + i,
    emails: 3,
    scored: 100 * (i + 1),
    conversions: i,
    queues: { email: depth(i) },
    depth: depth(i),
    backlog: Math.min(depth(i), 2),
    retained: 50 * i,
    rssMb: { api: api(i), redis: 15 },
    load1: 2,
  }));
}

describe('soak growth verdict', () => {
  it('thirds and slope', () => {
    expect(thirds([1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    expect(slope([0, 1, 2, 3], [1, 3, 5, 7])).toBeCloseTo(2);
    expect(slope([0, 1, 2], [4, 4, 4])).toBe(0);
  });

  it('a flat run after a warm-up rise passes', () => {
    // rises in the first third (warm-up), then flat with noise
    const v = verdict(series(30, (i) => (i < 10 ? 100 + 10 * i : 200 + (i % 2))));
    expect(v.ok).toBe(true);
    expect(v.findings.find((f) => f.series === 'RSS api')!.grew).toBe(false);
  });

  it('flags memory that keeps rising by more than 20%', () => {
    const v = verdict(series(30, (i) => 100 + 10 * i));
    const api = v.findings.find((f) => f.series === 'RSS api')!;
    expect(api.grew).toBe(true);
    expect(api.rising).toBe(true);
    expect(api.growth).toBeGreaterThan(0.2);
    expect(api.note).toMatch(/still rising/);
    expect(v.findings.find((f) => f.series === 'RSS redis')!.grew).toBe(false);
    expect(v.ok).toBe(false);
  });

  it('does not flag memory that grew but has stopped rising', () => {
    // steps up in the middle third, flat in the last
    const v = verdict(series(30, (i) => (i < 15 ? 100 : 200)));
    expect(v.findings.find((f) => f.series === 'RSS api')!.grew).toBe(false);
  });

  it('flags a growing queue and a backlog that never comes down', () => {
    const v = verdict(
      series(
        30,
        () => 100,
        (i) => 10 * i,
      ).map((s) => ({ ...s, backlog: s.depth })),
    );
    expect(v.findings.find((f) => f.series === 'queue depth')!.grew).toBe(true);
    const backlog = v.findings.find((f) => f.series.startsWith('backlog'))!;
    expect(backlog.grew).toBe(true);
    expect(backlog.note).toContain('lowest in the last third 200');
  });

  it('flags answers that keep slowing down, not a flat latency with spikes', () => {
    const slowing = verdict(series(30, () => 100).map((s, i) => ({ ...s, p50: 40 + 15 * i })));
    const f = slowing.findings.find((x) => x.series === 'latency p50 (ms)')!;
    expect(f.grew).toBe(true);
    expect(f.note).toMatch(/still rising/);
    expect(slowing.ok).toBe(false);
    // one slow interval a minute (a periodic task), no trend
    const spiky = verdict(series(30, () => 100).map((s, i) => ({ ...s, p50: i % 6 === 5 ? 250 : 60 })));
    expect(spiky.findings.find((x) => x.series === 'latency p50 (ms)')!.grew).toBe(false);
    expect(spiky.ok).toBe(true);
  });

  it('fails on any 5xx, not on 4xx', () => {
    const s = series(9, () => 100);
    s[4]!.errors = { '422': 3 };
    expect(verdict(s).ok).toBe(true);
    s[5]!.errors = { '503': 2, '500': 1 };
    const v = verdict(s);
    expect(v.serverErrors).toBe(3);
    expect(v.grew).toBe(false);
    expect(v.ok).toBe(false);
  });

  it('fails when the queues did not drain or a process restarted', () => {
    const v = verdict(series(9, () => 100));
    expect(finalVerdict(v, { drainBacklog: 3, drainAll: 20, restarts: { api: 0 } }).ok).toBe(true);
    const stuck = finalVerdict(v, { drainBacklog: 3, drainAll: null, restarts: { api: 0 } });
    expect(stuck.ok).toBe(false);
    expect(stuck.findings.at(-2)!.note).toContain('not empty in time');
    const restarted = finalVerdict(v, { drainBacklog: 3, drainAll: 20, restarts: { api: 0, 'worker-1': 2 } });
    expect(restarted.ok).toBe(false);
    expect(restarted.findings.at(-1)!.note).toBe('worker-1 2');
  });
});

describe('soak table and chart', () => {
  it('one row a sample up to 20, one a minute beyond', () => {
    const short = samplesTable(series(6, () => 100));
    expect(short.split('\n')).toHaveLength(2 + 6);
    expect(short.split('\n')[0]).toContain('api MB');
    const long = samplesTable(series(60, (i) => 100 + i));
    const rows = long.split('\n').slice(2);
    expect(rows).toHaveLength(10);
    // the first minute: samples at 10..60 s, RSS at its end (105), p99 its highest (125)
    const cells = rows[0]!.split('|').map((c) => c.trim());
    expect(cells[1]).toBe('60');
    expect(cells[5]).toBe('125');
    expect(cells.at(-3)).toBe('105');
  });

  it('buckets add errors up and keep the highest depth', () => {
    const s = series(
      12,
      () => 100,
      (i) => i,
    );
    s[0]!.errors = { '0': 1 };
    s[1]!.errors = { '0': 2, '503': 1 };
    const b = buckets(s, 60);
    expect(b).toHaveLength(2);
    expect(b[0]!.errors).toEqual({ '0': 3, '503': 1 });
    expect(b[0]!.depth).toBe(5);
    expect(b[1]!.depth).toBe(11);
  });

  it('nice ticks cover the maximum with round steps', () => {
    expect(niceTicks(93)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(1.2).at(-1)).toBeGreaterThanOrEqual(1.2);
  });

  it('the SVG has a line for every series, labelled axes, and escapes names', () => {
    const s = series(12, (i) => 100 + i).map((x) => ({ ...x, rssMb: { ...x.rssMb, 'a<b>': 1 } }));
    const svg = soakSvg(s);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    // requests, emails, depth, backlog; api, redis, a<b>
    expect(svg.match(/<polyline /g)).toHaveLength(7);
    for (const label of ['per second', 'jobs in queues', 'RSS (MB)', 'time since the soak began (s)'])
      expect(svg).toContain(label);
    expect(svg).toContain('a&lt;b&gt;');
    expect(svg).not.toContain('a<b>');
    const first = /<polyline[^>]*points="([^"]+)"/.exec(svg)![1]!.split(' ');
    expect(first).toHaveLength(12);
  });

  it('the report names the rate, the load average and the verdict', () => {
    const s = series(9, () => 100);
    const info: RunInfo = {
      date: '2026-12-02 02:00 UTC',
      machine: '2 × cpu',
      loadStart: [1, 2, 3],
      loadEnd: [4, 5, 6],
      command: 'npm run soak -- --minutes 1',
      capacity: '4.00 ticks/s',
      rate: 2,
      tick: 'a tick',
      minutes: 1.5,
      sampleSeconds: 10,
      totals: ['requests 200: 9'],
      drainBacklog: 1,
      drainAll: 2,
      drainLimit: 180,
      restarts: { api: 0 },
    };
    const v = finalVerdict(verdict(s), info);
    const md = reportMarkdown(info, s, v);
    expect(md).toContain('1.0 / 2.0 / 3.0 at the start, 4.0 / 5.0 / 6.0 at the end');
    expect(md).toContain('2.00 ticks/s (open loop)');
    expect(md).toContain('## Verdict: no growth, no 5xx');
    expect(md).toContain('- requests 200: 9');
  });
});
