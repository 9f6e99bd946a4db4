// The soak's SVG chart, written by hand: two panels sharing the time axis.
import type { Sample } from './report.js';

type Series = { name: string; color: string; values: number[]; right?: boolean };

const W = 900;
const PANEL = 300;
const M = { left: 64, right: 72, top: 36, bottom: 44 };
const palette = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
];

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** about five round tick values from 0 to at least `max` */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v < max + step - 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function panel(
  y0: number,
  title: string,
  t: number[],
  left: { label: string; series: Series[] },
  right?: { label: string; series: Series[] },
): string {
  const x0 = M.left;
  const w = W - M.left - M.right;
  const h = PANEL - M.top - M.bottom;
  const top = y0 + M.top;
  const tMax = Math.max(1, ...t);
  const xOf = (v: number) => x0 + (v / tMax) * w;
  const out: string[] = [];
  out.push(
    `<text x="${W / 2}" y="${y0 + 20}" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  );
  out.push(`<rect x="${x0}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#444"/>`);
  const axis = (side: 'left' | 'right', label: string, series: Series[]) => {
    const ticks = niceTicks(Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite))));
    const max = ticks.at(-1)!;
    const yOf = (v: number) => top + h - (v / max) * h;
    const ax = side === 'left' ? x0 : x0 + w;
    for (const v of ticks) {
      const y = yOf(v).toFixed(1);
      if (side === 'left') out.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
      const tx = side === 'left' ? ax - 6 : ax + 6;
      out.push(
        `<text x="${tx}" y="${y}" dy="4" font-size="11" text-anchor="${side === 'left' ? 'end' : 'start'}">${v}</text>`,
      );
    }
    const lx = side === 'left' ? 16 : W - 16;
    const ly = top + h / 2;
    out.push(
      `<text x="${lx}" y="${ly}" font-size="12" text-anchor="middle" transform="rotate(${side === 'left' ? -90 : 90} ${lx} ${ly})">${esc(label)}</text>`,
    );
    for (const s of series) {
      const pts = s.values
        .map((v, i) => `${xOf(t[i]!).toFixed(1)},${yOf(Number.isFinite(v) ? v : 0).toFixed(1)}`)
        .join(' ');
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.right ? ' stroke-dasharray="6 3"' : ''} points="${pts}"><title>${esc(s.name)}</title></polyline>`,
      );
    }
  };
  axis('left', left.label, left.series);
  if (right) axis('right', right.label, right.series);
  for (const v of niceTicks(tMax)) {
    if (v > tMax) break;
    const x = xOf(v).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${top + h}" y2="${top + h + 4}" stroke="#444"/>`);
    out.push(`<text x="${x}" y="${top + h + 16}" font-size="11" text-anchor="middle">${v}</text>`);
  }
  out.push(
    `<text x="${x0 + w / 2}" y="${top + h + 34}" font-size="12" text-anchor="middle">time since the soak began (s)</text>`,
  );
  const legend = [...left.series, ...(right?.series ?? [])];
  const rows = Math.ceil(legend.length / 5);
  out.push(
    `<rect x="${x0 + 2}" y="${top + 2}" width="${w - 4}" height="${rows * 16 + 4}" fill="#fff" fill-opacity="0.85"/>`,
  );
  legend.forEach((s, i) => {
    const lx = x0 + 8 + (i % 5) * 150;
    const ly = top + 14 + Math.floor(i / 5) * 16;
    out.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.right ? ' stroke-dasharray="6 3"' : ''}/>`,
    );
    out.push(`<text x="${lx + 22}" y="${ly}" font-size="11">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

/**
 * The soak chart: throughput (requests and emails per second, left axis) with the queue depth
 * (right axis, dashed), then each process's RSS in MB.
 */
export function soakSvg(samples: Sample[], title = 'leadflow soak'): string {
  const t = samples.map((s) => s.t);
  const procs = Object.keys(samples[0]?.rssMb ?? {});
  const top = panel(
    0,
    `${title}: throughput and queue depth`,
    t,
    {
      label: 'per second',
      series: [
        { name: 'requests/s', color: palette[0]!, values: samples.map((s) => s.requests) },
        { name: 'emails/s', color: palette[2]!, values: samples.map((s) => s.emails) },
      ],
    },
    {
      label: 'jobs in queues',
      series: [
        { name: 'queue depth', color: palette[1]!, values: samples.map((s) => s.depth), right: true },
        {
          name: 'backlog (waiting+active)',
          color: palette[3]!,
          values: samples.map((s) => s.backlog),
          right: true,
        },
      ],
    },
  );
  const mem = panel(PANEL, `${title}: memory (RSS) by process`, t, {
    label: 'RSS (MB)',
    series: procs.map((p, i) => ({
      name: p,
      color: palette[i % palette.length]!,
      values: samples.map((s) => s.rssMb[p] ?? NaN),
    })),
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${2 * PANEL}" viewBox="0 0 ${W} ${2 * PANEL}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
${top}
${mem}
</svg>
`;
}
