import { createHash } from 'node:crypto';
import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { badRequest, validationFailed } from '../../lib/errors.js';
import { LeadEvent } from '../events/index.js';
import { captureLeads, emailKey, type LeadInput } from '../leads/index.js';
import { hasEmailColumn, ignoredColumns, mapHeader, type HeaderMapping } from './header-map.js';
import { Import, rejectedSampleSize, type ImportDoc } from './import.model.js';
import { readCsvBatches, type CsvRecord } from './csv-reader.js';
import { maxAttributes, oversizedMarker, toLeadInput } from './imports.schemas.js';

export type RejectedRow = { row: number; reasons: string[] };

export type ImportReport = {
  /** null for a dry run: nothing is kept */
  id: string | null;
  status: 'completed' | 'failed';
  dryRun: boolean;
  rows: number;
  created: number;
  merged: number;
  unchanged: number;
  rejected: number;
  bytes: number;
  ignoredColumns: string[];
  /** the first rejected rows, in file order */
  rejectedRows: RejectedRow[];
};

export type ImportProgress = {
  bytes: number;
  rows: number;
  created: number;
  merged: number;
  rejected: number;
};

export type ImportOptions = {
  source: string;
  sequenceKey?: string;
  /** validate and count what would be created or merged; write nothing */
  dryRun?: boolean;
  fileName?: string;
  createdBy?: string;
  /** rows per captureLeads call */
  batchSize?: number;
  /** batches written at once (real runs; a dry run goes one at a time) */
  concurrency?: number;
  /** a physical line longer than this is rejected */
  maxLineBytes?: number;
  onProgress?: (p: ImportProgress) => void;
  /** the header row as read (the CLI repeats it in the rejected-rows file) */
  onHeader?: (headers: string[]) => void;
  /** every rejected row with its raw fields (the CLI writes them to `<file>.rejected.csv`) */
  onRejected?: (r: RejectedRow & { fields: string[] }) => void;
};

type Pending = { row: number; lead: LeadInput; key: string };

/**
 * The idempotency key of a row's import event: its content, source and sequence. Importing the same
 * row again finds the key and writes nothing, so running a file twice changes nothing.
 */
export function rowEventKey(lead: LeadInput, source: string, sequenceKey: string | undefined): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([source, sequenceKey ?? null, lead]))
    .digest('base64url')
    .slice(0, 32);
  return `import:${digest}`;
}

/** Which of `keys` were already recorded by an earlier import. */
async function knownEventKeys(keys: string[]): Promise<Set<string>> {
  const found = await LeadEvent.find({ key: { $in: keys } }, { key: 1, _id: 0 }).lean();
  return new Set(found.map((e) => e.key));
}

type Counts = {
  rows: number;
  created: number;
  merged: number;
  unchanged: number;
  rejected: number;
  bytes: number;
};

/** One import while it runs: its options, its Import record (none in a dry run) and its counts. */
type ImportRun = {
  opts: ImportOptions;
  dryRun: boolean;
  importId: Types.ObjectId | null;
  counts: Counts;
  sample: RejectedRow[];
  /** dry run only: emails this run would create, so a later row with one counts as a merge */
  wouldCreate: Set<string>;
  mapping?: HeaderMapping;
};

/**
 * Imports a CSV byte stream: reads it with constant memory, validates each row, and hands valid
 * rows to `captureLeads` in batches (dedup within a batch and against the database, events,
 * lead-captured jobs). Bad rows are counted and reported, never written. The Import record is
 * kept up to date as batches land, so `GET /api/imports/:id` shows progress.
 */
export async function importCsv(
  input: AsyncIterable<Buffer | string>,
  opts: ImportOptions,
): Promise<ImportReport> {
  const run = await startImport(opts);
  const writer = batchWriter(run);
  try {
    await readRows(run, input, writer);
  } catch (err) {
    // let batches already started finish, so the counts recorded match what was written
    await writer.settle();
    await recordFailure(run, err);
    throw err;
  }
  return completeImport(run);
}

/** Step 1: the Import record (a real run only), so progress is visible from the first batch. */
async function startImport(opts: ImportOptions): Promise<ImportRun> {
  const dryRun = opts.dryRun ?? false;
  const importId = dryRun ? null : new Types.ObjectId();
  if (importId) {
    await Import.create({
      _id: importId,
      source: opts.source,
      sequenceKey: opts.sequenceKey ?? null,
      fileName: opts.fileName ?? null,
      createdBy: opts.createdBy ?? null,
    });
  }
  const counts = { rows: 0, created: 0, merged: 0, unchanged: 0, rejected: 0, bytes: 0 };
  return { opts, dryRun, importId, counts, sample: [], wouldCreate: new Set() };
}

const progress = (run: ImportRun) => run.opts.onProgress?.({ ...run.counts });

/** Step 2: read records; the first is the header, every other one a row that is rejected or batched. */
async function readRows(run: ImportRun, input: AsyncIterable<Buffer | string>, writer: BatchWriter) {
  const batchSize = run.opts.batchSize ?? 1000;
  let batch: Pending[] = [];
  const batches = readCsvBatches(input, {
    maxLineBytes: run.opts.maxLineBytes,
    onBytes: (b) => {
      run.counts.bytes = b;
    },
  });
  for await (const recs of batches)
    for (const rec of recs) {
      if (!run.mapping) {
        run.mapping = readHeader(run, rec);
        continue;
      }
      const row = acceptRow(run, run.mapping, rec);
      if (row) batch.push(row);
      if (batch.length >= batchSize) {
        await writer.launch(batch);
        batch = [];
      }
    }
  if (!run.mapping) throw badRequest('the CSV is empty: a header line is required');
  if (batch.length > 0) await writer.launch(batch);
  await writer.drain();
}

/** The header line: the column mapping, or a 400 when it cannot be read or names no email column. */
function readHeader(run: ImportRun, rec: CsvRecord): HeaderMapping {
  if ('error' in rec) throw badRequest(`the header line cannot be read: ${rec.error}`);
  const mapping = mapHeader(rec.fields, maxAttributes);
  run.opts.onHeader?.(mapping.headers);
  if (!hasEmailColumn(mapping)) {
    throw validationFailed(
      [{ path: 'header', message: 'no email column (expected a column such as "Email" or "Email Address")' }],
      'the CSV has no email column',
    );
  }
  return mapping;
}

/** A data row: a valid lead with its event key, or undefined after counting it rejected. */
function acceptRow(run: ImportRun, mapping: HeaderMapping, rec: CsvRecord): Pending | undefined {
  run.counts.rows++;
  if ('error' in rec) {
    rejectRow(run, rec.row, [rec.error], []);
    return undefined;
  }
  const r = toLeadInput(rec.fields, mapping);
  if (!r.ok) {
    rejectRow(run, rec.row, r.reasons, rec.fields);
    return undefined;
  }
  return { row: rec.row, lead: r.lead, key: rowEventKey(r.lead, run.opts.source, run.opts.sequenceKey) };
}

function rejectRow(run: ImportRun, row: number, reasons: string[], fields: string[]) {
  run.counts.rejected++;
  if (run.sample.length < rejectedSampleSize)
    run.sample.push({ row, reasons: reasons.map((r) => r.slice(0, 300)) });
  // a cut (oversized) row has nothing worth repeating
  run.opts.onRejected?.({
    row,
    reasons,
    fields: fields.some((f) => f.includes(oversizedMarker)) ? [] : fields,
  });
  if (run.counts.rejected % 1000 === 0) progress(run);
}

type BatchWriter = {
  /** starts writing a batch; waits while `concurrency` batches are in flight; throws the first failure */
  launch: (batch: Pending[]) => Promise<void>;
  /** waits for every batch; throws the first failure */
  drain: () => Promise<void>;
  /** waits for every batch, failed or not */
  settle: () => Promise<unknown>;
};

/** Batches overlap (parsing the next while one is written); the first failure stops the import. */
function batchWriter(run: ImportRun): BatchWriter {
  const concurrency = run.dryRun ? 1 : Math.max(1, run.opts.concurrency ?? 2);
  const inFlight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  return {
    launch: async (batch) => {
      const p: Promise<void> = writeBatch(run, batch)
        .catch((err: unknown) => {
          failure ??= { err };
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (failure) throw failure.err;
    },
    drain: async () => {
      await Promise.all(inFlight);
      if (failure) throw failure.err;
    },
    settle: () => Promise.allSettled(inFlight),
  };
}

/** Step 3, per batch: rows an earlier import recorded change nothing; the rest are captured. */
async function writeBatch(run: ImportRun, batch: Pending[]) {
  const { counts, opts } = run;
  const known = await knownEventKeys([...new Set(batch.map((p) => p.key))]);
  const fresh = batch.filter((p) => !known.has(p.key));
  counts.merged += batch.length - fresh.length;
  counts.unchanged += batch.length - fresh.length;
  if (fresh.length > 0) {
    const results = await captureLeads(
      fresh.map((p) => p.lead),
      {
        via: 'import',
        source: opts.source,
        sequenceKey: opts.sequenceKey,
        dryRun: run.dryRun,
        eventKeys: fresh.map((p) => p.key),
        eventProperties: fresh.map((p) => ({ importId: String(run.importId), row: p.row })),
      },
    );
    results.forEach((r, i) => {
      if (isCreated(run, r.created, fresh[i]!.lead.email)) counts.created++;
      else counts.merged++;
    });
  }
  if (run.importId) await Import.updateOne({ _id: run.importId }, { $set: { ...counts } });
  progress(run);
}

/** A dry run writes nothing, so a second row with an email the run would create is a merge. */
function isCreated(run: ImportRun, created: boolean, email: string): boolean {
  if (!run.dryRun || !created) return created;
  const k = emailKey(email);
  if (run.wouldCreate.has(k)) return false;
  run.wouldCreate.add(k);
  return true;
}

async function recordFailure(run: ImportRun, err: unknown): Promise<void> {
  if (!run.importId) return;
  await Import.updateOne(
    { _id: run.importId },
    {
      $set: {
        ...run.counts,
        status: 'failed',
        error: err instanceof Error ? err.message.slice(0, 500) : String(err),
        rejectedRows: sortedSample(run.sample),
        ignoredColumns: run.mapping ? ignoredColumns(run.mapping) : [],
        finishedAt: clock.now(),
      },
    },
  ).catch(() => undefined);
}

/** Step 4: the report, also kept on the Import record. */
async function completeImport(run: ImportRun): Promise<ImportReport> {
  const report: ImportReport = {
    id: run.importId ? String(run.importId) : null,
    status: 'completed',
    dryRun: run.dryRun,
    ...run.counts,
    ignoredColumns: ignoredColumns(run.mapping!),
    rejectedRows: sortedSample(run.sample),
  };
  if (run.importId) {
    await Import.updateOne(
      { _id: run.importId },
      {
        $set: {
          ...run.counts,
          status: 'completed',
          rejectedRows: report.rejectedRows,
          ignoredColumns: report.ignoredColumns,
          finishedAt: clock.now(),
        },
      },
    );
  }
  progress(run);
  return report;
}

function sortedSample(sample: RejectedRow[]): RejectedRow[] {
  return [...sample].sort((a, b) => a.row - b.row);
}

/** An Import as `GET /api/imports/:id` shows it. */
export function viewImport(doc: ImportDoc) {
  return {
    id: String(doc._id),
    source: doc.source,
    sequenceKey: doc.sequenceKey ?? null,
    fileName: doc.fileName ?? null,
    status: doc.status,
    rows: doc.rows,
    created: doc.created,
    merged: doc.merged,
    unchanged: doc.unchanged,
    rejected: doc.rejected,
    bytes: doc.bytes,
    ignoredColumns: doc.ignoredColumns,
    rejectedRows: doc.rejectedRows.map((r) => ({ row: r.row, reasons: r.reasons })),
    error: doc.error ?? null,
    createdAt: doc.createdAt.toISOString(),
    finishedAt: doc.finishedAt?.toISOString() ?? null,
  };
}

export async function getImport(id: string) {
  const doc = await Import.findById(id).lean<ImportDoc>();
  return doc ? viewImport(doc) : null;
}
