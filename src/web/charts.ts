/** Server-side SVG charts: no chart library in the browser, readable in print and in dark mode. */

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export type Bar = { label: string; value: number; note?: string };

/**
 * A horizontal bar chart (the funnel): one bar per stage, its count at the end and an optional
 * note (the conversion from the stage before). Colours come from CSS classes (`chart-bar`,
 * `chart-text`), so the stylesheet decides light, dark and print.
 */
export function barChart(bars: Bar[], opts: { title: string; width?: number } = { title: '' }): string {
  const width = opts.width ?? 560;
  const labelW = 104;
  const row = 34;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const plotW = width - labelW - 140;
  const h = bars.length * row + 10;
  const rows = bars.map((b, i) => {
    const y = 5 + i * row;
    const w = Math.max(b.value > 0 ? 2 : 0, Math.round((b.value / max) * plotW));
    return [
      `<text class="chart-text" x="${labelW - 8}" y="${y + 19}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect class="chart-bar chart-bar-${i}" x="${labelW}" y="${y + 4}" width="${w}" height="${row - 10}" rx="3"><title>${esc(b.label)}: ${b.value}</title></rect>`,
      `<text class="chart-text chart-value" x="${labelW + w + 8}" y="${y + 19}">${b.value.toLocaleString('en')}${b.note ? ` <tspan class="chart-note">${esc(b.note)}</tspan>` : ''}</text>`,
    ].join('');
  });
  return `<svg class="chart" role="img" aria-label="${esc(opts.title)}" viewBox="0 0 ${width} ${h}" width="100%" xmlns="http://www.w3.org/2000/svg"><title>${esc(opts.title)}</title>${rows.join('')}</svg>`;
}
