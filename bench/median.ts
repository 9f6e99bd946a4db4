/**
 * The pure part of `npm run bench`: a bench's stdout from several runs → one output with the
 * median of every figure. Markdown tables are merged cell by cell, other lines number by number:
 * where every run's text has the same shape (the same words around the numbers), each number that
 * differs between runs becomes the median of the runs, formatted like the first run's (decimals,
 * thousands separators); a cell whose shape differs is shown from the first run, a line whose shape
 * differs is listed once per run.
 */

/** A markdown table as printed: header cells, the separator line as printed, body rows. */
export type Table = { header: string[]; separator: string; rows: string[][] };
/** A bench's output in order: a table, or one line that is not part of a table. */
export type Block = { kind: 'table'; table: Table } | { kind: 'line'; text: string };

/** A JSON log line (pino) that reached stdout: not a result. */
const LOG_LINE = /^\{"level":\d+,/;
const isRow = (line: string) => line.trim().startsWith('|');
const isSeparator = (line: string) => /^\s*\|?(\s*:?-+:?\s*\|)+\s*:?-*:?\s*$/.test(line);

/** The cells of one `| a | b |` row, trimmed. */
export function splitRow(line: string): string[] {
  const s = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return s.split('|').map((c) => c.trim());
}

/** Splits output into tables (a header row, a separator row, body rows) and other lines. */
export function parseBlocks(text: string): Block[] {
  const lines = text.replace(/\r/g, '').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (isRow(line) && i + 1 < lines.length && isSeparator(lines[i + 1]!)) {
      const table: Table = { header: splitRow(line), separator: lines[i + 1]!.trim(), rows: [] };
      i += 2;
      while (i < lines.length && isRow(lines[i]!)) table.rows.push(splitRow(lines[i++]!));
      i -= 1;
      blocks.push({ kind: 'table', table });
    } else if (line.trim() !== '' && !LOG_LINE.test(line)) {
      blocks.push({ kind: 'line', text: line.trimEnd() });
    }
  }
  return blocks;
}

/** The tables of an output, in order. */
export const parseTables = (text: string): Table[] =>
  parseBlocks(text).flatMap((b) => (b.kind === 'table' ? [b.table] : []));

const NUMBER = /\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?/g;

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `n` written like `like`: the same number of decimals, thousands separators if it had them. */
export function formatLike(n: number, like: string): string {
  const decimals = like.split('.')[1]?.length ?? 0;
  return n.toLocaleString('en', {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
    useGrouping: like.includes(','),
  });
}

/**
 * One text from the same text of several runs: the median of each number that differs, when every
 * run's text has the same shape; `undefined` when the shapes differ.
 */
export function medianText(values: string[]): string | undefined {
  const first = values[0] ?? '';
  if (values.every((v) => v === first)) return first;
  const shape = (v: string) => v.replace(NUMBER, '#');
  if (!values.every((v) => shape(v) === shape(first))) return undefined;
  const numbers = values.map((v) => v.match(NUMBER) ?? []);
  let k = 0;
  return first.replace(NUMBER, (token) => {
    const column = numbers.map((ns) => ns[k]!);
    k += 1;
    if (column.every((t) => t === token)) return token;
    return formatLike(median(column.map((t) => Number(t.replace(/,/g, '')))), token);
  });
}

/** Tables of the same shape from several runs → the cell-wise median (other cells: the first run's). */
export function medianTable(tables: Table[]): Table {
  const first = tables[0]!;
  const rows = first.rows.map((row, r) =>
    row.map((cell, c) => {
      const column = tables.map((t) => t.rows[r]?.[c]).filter((v): v is string => v !== undefined);
      return medianText(column) ?? cell;
    }),
  );
  return { header: first.header, separator: first.separator, rows };
}

export function renderTable(t: Table): string {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [row(t.header), t.separator, ...t.rows.map(row)].join('\n');
}

/**
 * Several runs' outputs of one bench → one output: block by block when every run printed the same
 * sequence of tables and lines; otherwise the first run's output, with a note saying so.
 */
export function medianOutput(outputs: string[]): string {
  const runs = outputs.map(parseBlocks);
  const first = runs[0] ?? [];
  if (runs.length <= 1) return render(first);
  const sameShape = runs.every(
    (bs) =>
      bs.length === first.length &&
      bs.every((b, i) => {
        const f = first[i]!;
        if (b.kind !== f.kind) return false;
        return b.kind === 'line' || (f.kind === 'table' && b.table.rows.length === f.table.rows.length);
      }),
  );
  if (!sameShape)
    return `(the ${runs.length} runs printed different results; the first run's output)\n\n${render(first)}`;
  const merged: Block[] = first.map((b, i) => {
    if (b.kind === 'table')
      return { kind: 'table', table: medianTable(runs.map((bs) => (bs[i] as typeof b).table)) };
    const texts = runs.map((bs) => (bs[i] as typeof b).text);
    const m = medianText(texts);
    return { kind: 'line', text: m ?? texts.map((t, r) => `run ${r + 1}: ${t}`).join('\n') };
  });
  return render(merged);
}

/** Blocks back to text: a blank line around each table. */
export function render(blocks: Block[]): string {
  return blocks
    .map((b, i) => {
      if (b.kind === 'line') return b.text;
      return `${i > 0 ? '\n' : ''}${renderTable(b.table)}${i < blocks.length - 1 ? '\n' : ''}`;
    })
    .join('\n');
}
