/**
 * CSV import throughput and memory:
 *   `npx tsx bench/import.ts [--rows 1000000] [--db-rows N] [--upsert-rows 200] [--batch 1000]`
 *
 * Generates CSVs (streamed to temp files: ~5% duplicate people, ~0.6% bad rows), then measures
 *   1. csv-parse alone over the `--rows` file (the parse ceiling),
 *   2. leadflow's reader + header mapping + row validation over the same file (no database),
 *   3. a raw driver bulk insert of the first `--db-rows` rows (unique emailKey; the write ceiling),
 *   4. a raw driver bulk upsert of the first `--upsert-rows` rows (upserts are slow on FerretDB),
 *   5. the real pipeline, importCsv → captureLeads (validation, dedup, events, lead-captured jobs),
 *      over the `--db-rows` file,
 * each into a fresh database, sampling RSS every 100 ms. Prints progress and a result table.
 * On FerretDB (SQLite) writes run at hundreds of rows per second, so pass `--db-rows` there.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { parse } from 'csv-parse';
import mongoose from 'mongoose';

import { createLogger } from '../src/lib/logger.js';
import { ensureLocalServices } from '../src/lib/local-services.js';
import { connectRuntime } from '../src/lib/runtime.js';
import { shutdown } from '../src/lib/shutdown.js';
import { importCsv, mapHeader, readCsv, rowEventKey, toLeadInput } from '../src/modules/imports/index.js';
import { benchArgs, benchConfig, deleteQueueKeys } from './helpers.js';

const args = benchArgs(
  `CSV import throughput and memory: csv-parse alone, leadflow's reader and validation, a raw driver
bulk insert and upsert, and the real importCsv pipeline, over generated files (same run).

usage: npx tsx bench/import.ts [options]`,
  {
    rows: { default: 1_000_000, help: 'rows in the generated file (parsing and validation)' },
    'db-rows': { default: 0, help: 'rows written to the database (0: all of --rows)' },
    'upsert-rows': { default: 200, help: 'rows of the raw upsert baseline' },
    batch: { default: 1000, help: 'rows per captureLeads call' },
  },
);
const rows = args.rows;
const dbRows = Math.min(args['db-rows'] || rows, rows);
const upsertRows = Math.min(args['upsert-rows'], dbRows);
const batchSize = args.batch;
const stamp = Date.now().toString(36);
const file = path.join(tmpdir(), `leadflow-bench-${stamp}.csv`);
const dbFile = path.join(tmpdir(), `leadflow-bench-${stamp}-db.csv`);
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Peak RSS while `fn` runs, sampled every 100 ms. */
async function measure<T>(label: string, fn: (tick: (n: number) => void) => Promise<T>) {
  global.gc?.();
  const rssStart = process.memoryUsage().rss;
  let peak = rssStart;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  const started = performance.now();
  let lastLog = started;
  const tick = (n: number) => {
    const now = performance.now();
    if (now - lastLog < 5000) return;
    lastLog = now;
    log(
      `  ${label}: ${n.toLocaleString()} rows, ${Math.round(n / ((now - started) / 1000)).toLocaleString()} rows/s, rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB`,
    );
  };
  const result = await fn(tick);
  const secs = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { result, secs, rssStartMb: rssStart / 1048576, peakMb: peak / 1048576 };
}

async function generate(file: string, rows: number): Promise<number> {
  const out = createWriteStream(file);
  out.write('Email,First Name,Last Name,Company,Job Title,Phone Number,Country/Region,City,Industry\n');
  const countries = ['Germany', 'France', 'US', 'United Kingdom', 'Spain', 'NL'];
  for (let i = 0; i < rows; i++) {
    let line: string;
    if (i % 200 === 199) line = `not-an-email-${i},Bad,Row,X,,,,,\n`;
    else if (i % 997 === 996) line = `ragged${i}@bench.example,Too,Few\n`;
    else {
      // ~5%: a person seen earlier in the file, in another case
      const n = i % 20 === 19 && i > 100 ? i - 77 : i;
      const email = n === i ? `person${n}@bench.example` : `Person${n}@Bench.example`;
      line = `${email},First${n},Last${n},"Company ${n % 5000}, Inc",Title ${n % 50},+49 30 ${1000000 + (n % 8999999)},${countries[n % 6]},City ${n % 300},Industry ${n % 20}\n`;
    }
    if (!out.write(line)) await once(out, 'drain');
    if (i % 200_000 === 0 && i > 0) log(`  generated ${i.toLocaleString()} rows`);
  }
  out.end();
  await once(out, 'finish');
  return (await stat(file)).size;
}

async function main() {
  log(
    `bench/import: ${rows.toLocaleString()} rows (${dbRows.toLocaleString()} into the database), batches of ${batchSize}`,
  );
  const size = await generate(file, rows);
  log(`generated ${file} (${(size / 1048576).toFixed(1)} MB)`);
  const dbSize = dbRows === rows ? size : await generate(dbFile, dbRows);

  log('1/5 csv-parse alone');
  const parseOnly = await measure('parse', async (tick) => {
    let n = 0;
    for await (const _ of createReadStream(file).pipe(parse({ bom: true, relax_column_count: true }))) {
      if (++n % 10_000 === 0) tick(n);
    }
    return n - 1;
  });

  log('2/5 leadflow reader + mapping + validation, no database');
  const validateOnly = await measure('validate', async (tick) => {
    let n = 0;
    let ok = 0;
    let mapping: ReturnType<typeof mapHeader> | undefined;
    for await (const rec of readCsv(createReadStream(file))) {
      if (!('fields' in rec)) continue;
      if (!mapping) {
        mapping = mapHeader(rec.fields);
        continue;
      }
      const r = toLeadInput(rec.fields, mapping);
      if (r.ok) {
        rowEventKey(r.lead, 'bench', undefined);
        ok++;
      }
      if (++n % 10_000 === 0) tick(n);
    }
    return { n, ok };
  });
  const dbInput = dbRows === rows ? file : dbFile;

  const base = benchConfig(
    { LOG_LEVEL: 'warn', QUEUE_PREFIX: `bench-import-${stamp}` },
    { sharedServers: false },
  );
  const logger = createLogger('warn', 'bench');
  const config = await ensureLocalServices(base, logger);
  const rt = await connectRuntime(config, logger, { dbName: `bench_import_raw_${stamp}` });

  const coll = mongoose.connection.collection('leads');
  await coll.createIndex({ emailKey: 1 }, { unique: true });
  const doc = (r: string[]) => ({
    email: r[0],
    emailKey: r[0]!.toLowerCase(),
    firstName: r[1],
    lastName: r[2],
    company: r[3],
    title: r[4],
  });
  /** Streams the first `limit` data rows of `input` in batches to `write`. */
  const rawRun = async (
    limit: number,
    write: (batch: string[][]) => Promise<unknown>,
    tick: (n: number) => void,
  ) => {
    let batch: string[][] = [];
    let n = 0;
    const parser = createReadStream(dbInput).pipe(
      parse({ bom: true, relax_column_count: true, from_line: 2, to_line: limit + 1 }),
    );
    for await (const r of parser) {
      batch.push(r as string[]);
      if (batch.length >= batchSize) {
        await write(batch);
        batch = [];
        tick((n += batchSize));
      }
    }
    if (batch.length) await write(batch);
  };

  log('3/5 raw driver bulk insert (unordered, unique emailKey)');
  const rawInsert = await measure('raw insert', async (tick) => {
    await rawRun(
      dbRows,
      (b) =>
        coll
          .insertMany(b.map(doc), { ordered: false })
          .catch((err: { code?: number; writeErrors?: unknown }) => {
            if (!err.writeErrors) throw err;
          }),
      tick,
    );
    return coll.countDocuments();
  });
  await coll.deleteMany({});

  log(`4/5 raw driver bulk upsert (${upsertRows} rows)`);
  const rawUpsert = await measure('raw upsert', async (tick) => {
    await rawRun(
      upsertRows,
      (b) =>
        coll.bulkWrite(
          b.map((r) => {
            const { emailKey, ...rest } = doc(r);
            return { updateOne: { filter: { emailKey }, update: { $setOnInsert: rest }, upsert: true } };
          }),
          { ordered: false },
        ),
      tick,
    );
    return coll.countDocuments();
  });
  await mongoose.connection.db!.dropDatabase();

  log('5/5 leadflow import pipeline');
  await mongoose.connection.useDb(`bench_import_real_${stamp}`, { useCache: false });
  await mongoose.disconnect();
  await mongoose.connect(config.mongodbUri, {
    dbName: `bench_import_real_${stamp}`,
    autoIndex: false,
    maxPoolSize: 50,
  });
  await Promise.all(Object.values(mongoose.models).map((m) => m.createIndexes()));
  const real = await measure('import', async (tick) =>
    importCsv(createReadStream(dbInput), { source: 'bench', batchSize, onProgress: (p) => tick(p.rows) }),
  );
  const leads = await mongoose.connection.collection('leads').countDocuments();
  await mongoose.connection.db!.dropDatabase();
  await shutdown(rt.logger, 20_000);
  await deleteQueueKeys(config.redisUrl, config.queuePrefix);
  await rm(file, { force: true });
  await rm(dbFile, { force: true });

  const r = real.result;
  const line = (name: string, n: number, m: { secs: number; rssStartMb: number; peakMb: number }) =>
    `| ${name.padEnd(34)} | ${n.toLocaleString().padStart(10)} | ${m.secs.toFixed(1).padStart(7)} | ${Math.round(
      n / m.secs,
    )
      .toLocaleString()
      .padStart(9)} | ${m.rssStartMb.toFixed(0).padStart(9)} | ${m.peakMb.toFixed(0).padStart(8)} |`;
  const table = [
    `bench/import — ${rows.toLocaleString()} rows, ${(size / 1048576).toFixed(1)} MB, node ${process.version}, MongoDB at ${new URL(config.mongodbUri).host}`,
    '| step                               |       rows |   secs |   rows/s | rss start MB | peak MB |',
    '|------------------------------------|-----------:|--------:|----------:|----------:|---------:|',
    line('csv-parse alone (baseline)', parseOnly.result, parseOnly),
    line('leadflow read+map+validate, no db', validateOnly.result.n, validateOnly),
    line('raw driver bulk insert (baseline)', dbRows, rawInsert),
    line('raw driver bulk upsert (baseline)', upsertRows, rawUpsert),
    line('leadflow importCsv (full pipeline)', r.rows, real),
    '',
    `input: ${(size / 1048576).toFixed(1)} MB for ${rows.toLocaleString()} rows; ${(dbSize / 1048576).toFixed(1)} MB for ${dbRows.toLocaleString()} rows into the database`,
    `import: created ${r.created}, merged ${r.merged}, rejected ${r.rejected}; leads in db ${leads} (raw insert: ${rawInsert.result})`,
    `validate / parse rate: ${(validateOnly.result.n / validateOnly.secs / (parseOnly.result / parseOnly.secs)).toFixed(2)}; ` +
      `import / raw insert rate: ${(r.rows / real.secs / (dbRows / rawInsert.secs)).toFixed(2)}; ` +
      `import / raw upsert rate: ${(r.rows / real.secs / (upsertRows / rawUpsert.secs)).toFixed(2)}`,
  ];
  process.stdout.write(`${table.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
