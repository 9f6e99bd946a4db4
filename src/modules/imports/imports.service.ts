import { createHash } from 'node:crypto';
import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { badRequest, validationFailed } from '../../lib/errors.js';
import { LeadEvent } from '../events/index.js';
import { captureLeads, emailKey, type LeadInput } from '../leads/index.js';
import { hasEmailColumn, ignoredColumns, mapHeader, type HeaderMapping } from './header-map.js';
import { Import, rejectedSampleSize, type ImportDoc } from './import.model.js';
import { readCsvBatches } from './csv-reader.js';
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
  const dryRun = opts.dryRun ?? false;
  const batchSize = opts.batchSize ?? 1000;
  const concurrency = dryRun ? 1 : Math.max(1, opts.concurrency ?? 2);
  const counts = { rows: 0, created: 0, merged: 0, unchanged: 0, rejected: 0, bytes: 0 };
  const sample: RejectedRow[] = [];
  // dry run only: emails this run would create, so a later row with one counts as a merge
  const wouldCreate = new Set<string>();
  let mapping: HeaderMapping | undefined;
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

  const reject = (row: number, reasons: string[], fields: string[]) => {
    counts.rejected++;
    if (sample.length < rejectedSampleSize)
      sample.push({ row, reasons: reasons.map((r) => r.slice(0, 300)) });
    // a cut (oversized) row has nothing worth repeating
    opts.onRejected?.({
      row,
      reasons,
      fields: fields.some((f) => f.includes(oversizedMarker)) ? [] : fields,
    });
    if (counts.rejected % 1000 === 0) progress();
  };
  const progress = () => opts.onProgress?.({ ...counts });

  const writeBatch = async (batch: Pending[]) => {
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
          dryRun,
          eventKeys: fresh.map((p) => p.key),
          eventProperties: fresh.map((p) => ({ importId: String(importId), row: p.row })),
        },
      );
      results.forEach((r, i) => {
        let created = r.created;
        if (dryRun) {
          const k = emailKey(fresh[i]!.lead.email);
          if (created && wouldCreate.has(k)) created = false;
          if (created) wouldCreate.add(k);
        }
        if (created) counts.created++;
        else counts.merged++;
      });
    }
    if (importId) await Import.updateOne({ _id: importId }, { $set: { ...counts } });
    progress();
  };

  // Batches overlap (parsing the next while one is written); the first failure stops the import.
  const inFlight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  const launch = async (batch: Pending[]) => {
    const p: Promise<void> = writeBatch(batch)
      .catch((err: unknown) => {
        failure ??= { err };
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failure) throw failure.err;
  };

  try {
    let batch: Pending[] = [];
    const batches = readCsvBatches(input, {
      maxLineBytes: opts.maxLineBytes,
      onBytes: (b) => {
        counts.bytes = b;
      },
    });
    for await (const recs of batches)
      for (const rec of recs) {
        if (!mapping) {
          if ('error' in rec) throw badRequest(`the header line cannot be read: ${rec.error}`);
          mapping = mapHeader(rec.fields, maxAttributes);
          opts.onHeader?.(mapping.headers);
          if (!hasEmailColumn(mapping)) {
            throw validationFailed(
              [
                {
                  path: 'header',
                  message: 'no email column (expected a column such as "Email" or "Email Address")',
                },
              ],
              'the CSV has no email column',
            );
          }
          continue;
        }
        counts.rows++;
        if ('error' in rec) {
          reject(rec.row, [rec.error], []);
          continue;
        }
        const r = toLeadInput(rec.fields, mapping);
        if (!r.ok) {
          reject(rec.row, r.reasons, rec.fields);
          continue;
        }
        batch.push({ row: rec.row, lead: r.lead, key: rowEventKey(r.lead, opts.source, opts.sequenceKey) });
        if (batch.length >= batchSize) {
          await launch(batch);
          batch = [];
        }
      }
    if (!mapping) throw badRequest('the CSV is empty: a header line is required');
    if (batch.length > 0) await launch(batch);
    await Promise.all(inFlight);
    if (failure) throw failure.err;
  } catch (err) {
    // let batches already started finish, so the counts recorded match what was written
    await Promise.allSettled(inFlight);
    if (importId) {
      await Import.updateOne(
        { _id: importId },
        {
          $set: {
            ...counts,
            status: 'failed',
            error: err instanceof Error ? err.message.slice(0, 500) : String(err),
            rejectedRows: sortedSample(sample),
            ignoredColumns: mapping ? ignoredColumns(mapping) : [],
            finishedAt: clock.now(),
          },
        },
      ).catch(() => undefined);
    }
    throw err;
  }

  const report: ImportReport = {
    id: importId ? String(importId) : null,
    status: 'completed',
    dryRun,
    ...counts,
    ignoredColumns: ignoredColumns(mapping),
    rejectedRows: sortedSample(sample),
  };
  if (importId) {
    await Import.updateOne(
      { _id: importId },
      {
        $set: {
          ...counts,
          status: 'completed',
          rejectedRows: report.rejectedRows,
          ignoredColumns: report.ignoredColumns,
          finishedAt: clock.now(),
        },
      },
    );
  }
  progress();
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
