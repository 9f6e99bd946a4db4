import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { startRuntime } from '../lib/runtime.js';
import { shutdown } from '../lib/shutdown.js';
import { importCsv, importQuery, type ImportProgress, type ImportReport } from '../modules/imports/index.js';
import { createProgress } from './progress.js';

/** One CSV line, quoted where needed (RFC 4180). */
export function csvLine(values: string[]): string {
  return `${values.map((v) => (/[",\r\n;\t]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',')}\r\n`;
}

function summary(file: string, r: ImportReport, rejectedFile: string | undefined): string {
  const lines = [
    `${r.dryRun ? 'dry run of' : 'imported'} ${file}${r.id ? ` (import ${r.id})` : ''}`,
    `  rows      ${r.rows}`,
    `  ${r.dryRun ? 'would create' : 'created'}   ${r.created}`,
    `  ${r.dryRun ? 'would merge' : 'merged'}    ${r.merged}${r.unchanged ? ` (${r.unchanged} unchanged, already imported)` : ''}`,
    `  rejected  ${r.rejected}`,
  ];
  if (r.ignoredColumns.length) lines.push(`  ignored columns: ${r.ignoredColumns.join(', ')}`);
  for (const x of r.rejectedRows.slice(0, 10)) lines.push(`  row ${x.row}: ${x.reasons.join('; ')}`);
  if (r.rejected > 10) lines.push(`  ... ${r.rejected - 10} more`);
  if (rejectedFile) lines.push(`  rejected rows written to ${rejectedFile}`);
  return `${lines.join('\n')}\n`;
}

/** `leadflow import FILE --source S [--sequence K] [--dry-run] [--json]` */
export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('import leads from a CSV file (Salesforce and HubSpot exports are understood)')
    .argument('<file>', 'the CSV file (UTF-8; `,` `;` or tab separated)')
    .requiredOption('--source <source>', 'the lead source, e.g. "Trade show Berlin 2026"')
    .option('--sequence <key>', 'enroll the imported leads into this sequence')
    .option('--dry-run', 'validate and count what would be created or merged; write nothing')
    .option('--json', 'print the report as JSON')
    .action(
      async (file: string, opts: { source: string; sequence?: string; dryRun?: boolean; json?: boolean }) => {
        const q = importQuery.safeParse({ source: opts.source, sequence: opts.sequence });
        if (!q.success)
          throw new InvalidArgumentError(
            q.error.issues.map((i) => `--${String(i.path[0])} ${i.message}`).join('; '),
          );
        const size = await stat(file).then(
          (s) => (s.isFile() ? s.size : undefined),
          () => undefined,
        );
        if (size === undefined) throw new InvalidArgumentError(`${file} is not a readable file`);

        const rt = await startRuntime('cli', { signals: false });
        const rejectedFile = `${file}.rejected.csv`;
        let rejectedOut: WriteStream | undefined;
        let header: string[] = [];
        const progress = createProgress(process.stderr, path.basename(file), size);
        let last: ImportProgress = { bytes: 0, rows: 0, created: 0, merged: 0, rejected: 0 };
        try {
          const report = await importCsv(createReadStream(file), {
            source: q.data.source,
            sequenceKey: q.data.sequence,
            dryRun: opts.dryRun ?? false,
            fileName: path.basename(file),
            createdBy: 'cli',
            maxLineBytes: rt.config.imports.maxLineBytes,
            onHeader: (h) => {
              header = h;
            },
            onProgress: (p) => {
              last = p;
              progress.update(p);
            },
            onRejected: (r) => {
              if (!rejectedOut) {
                rejectedOut = createWriteStream(rejectedFile);
                rejectedOut.write(csvLine(['import_row', 'import_reasons', ...header]));
              }
              rejectedOut.write(csvLine([String(r.row), r.reasons.join('; '), ...r.fields]));
            },
          });
          progress.done(last);
          if (rejectedOut) await new Promise((resolve) => rejectedOut!.end(resolve));
          process.stdout.write(
            opts.json
              ? `${JSON.stringify({ ...report, rejectedFile: rejectedOut ? rejectedFile : null })}\n`
              : summary(file, report, rejectedOut ? rejectedFile : undefined),
          );
          if (report.rows > 0 && report.rejected === report.rows) process.exitCode = 1;
        } finally {
          rejectedOut?.end();
          await shutdown(rt.logger, 10_000);
        }
      },
    );
}
