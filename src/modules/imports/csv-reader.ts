import { Readable, Transform, type TransformCallback } from 'node:stream';
import { parse, type CsvError, type Options, type Parser } from 'csv-parse';
import { oversizedMarker } from './imports.schemas.js';

export type Delimiter = ',' | ';' | '\t';

/**
 * The delimiter of a header line: whichever of `,` `;` tab occurs most outside quotes
 * (`,` on a tie or when none does: a one-column file).
 */
export function detectDelimiter(headerLine: string): Delimiter {
  const counts: Record<Delimiter, number> = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const ch of headerLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === ',' || ch === ';' || ch === '\t')) counts[ch]++;
  }
  let best: Delimiter = ',';
  for (const d of [';', '\t'] as const) if (counts[d] > counts[best]) best = d;
  return best;
}

const LF = 0x0a;

/**
 * Keeps memory flat whatever the input: a physical line longer than `maxLineBytes` is dropped
 * and replaced by a marker line, so the record it belonged to is rejected and parsing goes on
 * (csv-parse's own max_record_size stops the whole parse, and with skip_records_with_error it
 * loses the rest of the chunk). Only the current unfinished line is ever buffered.
 */
export class LineGuard extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;
  /** bytes seen so far (progress) */
  bytes = 0;

  constructor(private readonly maxLineBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      if (this.discarding) {
        if (nl === -1) return done();
        this.discarding = false;
        this.push(Buffer.from(`${oversizedMarker}\n`));
        start = nl + 1;
        continue;
      }
      if (nl === -1) {
        this.hold(chunk.subarray(start));
        return done();
      }
      // the line ending at `nl` is the pending bytes plus chunk[start..nl]
      if (this.pendingBytes + (nl - start) > this.maxLineBytes) {
        this.pending = [];
        this.pendingBytes = 0;
        this.push(Buffer.from(`${oversizedMarker}\n`));
        start = nl + 1;
        continue;
      }
      // pass every complete line up to the last newline of the chunk in one piece
      const last = chunk.lastIndexOf(LF);
      let end = last;
      // lines after the first are within this chunk: check none is too long
      let prev = nl;
      for (let p = chunk.indexOf(LF, nl + 1); p !== -1 && p <= last; p = chunk.indexOf(LF, p + 1)) {
        if (p - prev - 1 > this.maxLineBytes) {
          end = prev;
          break;
        }
        prev = p;
      }
      if (this.pendingBytes > 0) {
        this.push(Buffer.concat([...this.pending, chunk.subarray(start, end + 1)]));
        this.pending = [];
        this.pendingBytes = 0;
      } else {
        this.push(chunk.subarray(start, end + 1));
      }
      start = end + 1;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.discarding) this.push(Buffer.from(oversizedMarker));
    else if (this.pendingBytes > 0) this.push(Buffer.concat(this.pending));
    done();
  }

  private hold(part: Buffer): void {
    if (this.pendingBytes + part.length > this.maxLineBytes) {
      this.pending = [];
      this.pendingBytes = 0;
      this.discarding = true;
      return;
    }
    this.pending.push(part);
    this.pendingBytes += part.length;
  }
}

export type CsvRecord =
  /** `row`: the record's number in the file counting the header as 1, as a spreadsheet shows it */
  { row: number; fields: string[] } | { row: number; error: string };

export type ReadCsvOptions = {
  /** longest physical line kept; longer ones become rejected rows (default 1 MiB) */
  maxLineBytes?: number;
  /** called with the bytes read so far, for progress */
  onBytes?: (bytes: number) => void;
};

/** Resolves when `stream` may have data to read, has ended, or rejects when it fails. */
function readableOrEnd(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = () => {
      cleanup();
      resolve();
    };
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      stream.off('readable', ok);
      stream.off('end', ok);
      stream.off('close', ok);
      stream.off('error', fail);
    };
    stream.on('readable', ok);
    stream.on('end', ok);
    stream.on('close', ok);
    stream.on('error', fail);
  });
}

const isDone = (s: Readable) => s.readableEnded || s.destroyed;

/**
 * Streams records out of a CSV byte stream with constant memory, a batch per chunk read (per-record
 * promises would cost more than parsing): BOM stripped, delimiter detected from the header line,
 * quoted newlines kept, ragged rows passed on (the caller rejects them), oversized lines cut by
 * {@link LineGuard}. The first record is the header.
 */
export async function* readCsvBatches(
  source: AsyncIterable<Buffer | string>,
  opts: ReadCsvOptions = {},
): AsyncGenerator<CsvRecord[]> {
  const maxLineBytes = opts.maxLineBytes ?? 1024 * 1024;
  const guard = new LineGuard(maxLineBytes);
  const input = Readable.from(source, { objectMode: false });
  // failures surface through `errored` where this generator waits, never as unhandled 'error' events
  const surfaced = () => undefined;
  input.on('error', (err) => guard.destroy(err));
  guard.on('error', surfaced);
  input.pipe(guard);

  let parserRef: Parser | undefined;
  try {
    const headBuf = await readHeadLine(guard);
    if (!headBuf) return;
    const nl = headBuf.indexOf(LF);
    const delimiter = detectDelimiter(headBuf.subarray(0, nl === -1 ? headBuf.length : nl).toString('utf8'));
    const skipped: Skipped = [];
    const parser = createParser(delimiter, maxLineBytes, skipped);
    parserRef = parser;
    parser.on('error', surfaced);
    guard.on('error', (err) => parser.destroy(err));
    if (isDone(guard)) parser.end(headBuf);
    else {
      // put the header line back, ahead of the rest
      guard.unshift(headBuf);
      guard.pipe(parser);
    }
    for (;;) {
      const batch = takeRecords(parser, skipped);
      if (batch.length > 0) {
        opts.onBytes?.(guard.bytes);
        yield batch;
        continue;
      }
      if (parser.errored) throw parser.errored;
      if (isDone(parser)) break;
      await readableOrEnd(parser);
    }
    if (skipped.length > 0) yield skipped;
    opts.onBytes?.(guard.bytes);
  } finally {
    // stopped early (a failed batch, an aborted request): release the file or socket at once
    for (const s of [input, guard, parserRef]) if (s && !s.destroyed) s.destroy();
  }
}

/** Rows the parser skipped (unparseable), waiting for their place in file order. */
type Skipped = { row: number; error: string }[];

/** Reads until the header line is complete (to choose the delimiter); undefined for an empty input. */
async function readHeadLine(guard: LineGuard): Promise<Buffer | undefined> {
  const head: Buffer[] = [];
  for (;;) {
    const chunk = guard.read() as Buffer | null;
    if (chunk !== null) {
      head.push(chunk);
      if (chunk.includes(LF)) break;
      continue;
    }
    if (guard.errored) throw guard.errored;
    if (isDone(guard)) break;
    await readableOrEnd(guard);
  }
  if (guard.errored) throw guard.errored;
  return head.length === 0 ? undefined : Buffer.concat(head);
}

/** The csv-parse parser: rows numbered in parse order, unparseable rows reported into `skipped`. */
function createParser(delimiter: string, maxLineBytes: number, skipped: Skipped): Parser {
  let row = 0;
  const options: Options<{ row: number; fields: string[] }, string[]> = {
    bom: true,
    delimiter,
    relax_column_count: true,
    // a stray quote inside an unquoted field is kept as text rather than failing the file
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    // backstop against a record of many short lines inside an unclosed quote
    max_record_size: maxLineBytes * 4,
    // rows are numbered here, in parse order, since skips are reported before buffered records are read
    on_record: (fields: string[]) => ({ row: ++row, fields }),
    on_skip: (err: CsvError | undefined) => {
      skipped.push({ row: ++row, error: err?.message ?? 'the row cannot be parsed' });
      return undefined;
    },
  };
  // the typings only allow a record-shaped on_record result together with `columns`
  return parse(options as unknown as Options);
}

/** The records the parser holds now, with skipped rows merged in file order. */
function takeRecords(parser: Parser, skipped: Skipped): CsvRecord[] {
  const batch: CsvRecord[] = [];
  for (let rec = parser.read() as CsvRecord | null; rec !== null; rec = parser.read() as CsvRecord | null) {
    // keep file order: a skip may be reported while earlier records are still buffered
    const at = rec.row;
    if (skipped.length > 0 && skipped[0]!.row < at) {
      batch.push(...skipped.filter((x) => x.row < at));
      skipped.splice(0, skipped.length, ...skipped.filter((x) => x.row > at));
    }
    batch.push(rec);
  }
  return batch;
}

/** {@link readCsvBatches}, one record at a time. */
export async function* readCsv(
  source: AsyncIterable<Buffer | string>,
  opts: ReadCsvOptions = {},
): AsyncGenerator<CsvRecord> {
  for await (const batch of readCsvBatches(source, opts)) yield* batch;
}
