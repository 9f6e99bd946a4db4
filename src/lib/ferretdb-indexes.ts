import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from './logger.js';

/**
 * Read indexes for FerretDB v1 on PostgreSQL (the embedded default).
 *
 * FerretDB stores each collection as a table of one `_jsonb` column and sends an equality filter
 * `{k: v}` (and, with scripts/ferretdb.patch, `{k: {$in: [...]}}`) to PostgreSQL as
 * `_jsonb->'k' @> '"v"'`. The btree indexes it creates for MongoDB indexes are on `_jsonb->'k'`
 * and serve its unique checks and `_id` updates, but not `@>`, so without more every lookup reads
 * the whole table. For every field of every index FerretDB records for a collection (its
 * `_ferretdb_database_metadata`, which holds what mongoose's createIndexes declared, `_id`
 * included) this adds a GIN `jsonb_path_ops` index on exactly that expression.
 *
 * Idempotent (existing indexes are skipped; an advisory lock keeps concurrent starts apart), a
 * no-op when the database is not FerretDB's on this PostgreSQL, and never needed for correctness:
 * a failure is logged and the app runs on, only slower. Dotted fields are skipped (FerretDB v1 does
 * not send them to PostgreSQL), as are text/hashed index keys.
 */
export async function ensureFerretdbReadIndexes(
  postgresUrl: string,
  dbName: string,
  logger: Logger,
): Promise<{ created: number; existing: number }> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const wanted = await wantedIndexes(client, dbName);
    if (wanted === undefined) {
      logger.debug({ db: dbName }, 'not a FerretDB database on this PostgreSQL: no read indexes');
      return { created: 0, existing: 0 };
    }
    const present = new Set(
      (
        await client.query<{ indexname: string }>('SELECT indexname FROM pg_indexes WHERE schemaname = $1', [
          dbName,
        ])
      ).rows.map((r) => r.indexname),
    );
    const missing = wanted.filter((w) => !present.has(w.name));
    if (missing.length) {
      await client.query(`SET lock_timeout = '10s'`);
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`leadflow-read-indexes:${dbName}`]);
      for (const w of missing) await client.query(w.sql);
      await client.query('COMMIT');
      logger.info({ db: dbName, created: missing.length }, 'read indexes added to FerretDB tables');
    }
    return { created: missing.length, existing: wanted.length - missing.length };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    logger.warn(
      { err, db: dbName },
      'could not add read indexes to FerretDB tables (lookups stay correct, only slower)',
    );
    return { created: 0, existing: 0 };
  } finally {
    await client.end().catch(() => undefined);
  }
}

type Wanted = { name: string; sql: string };

type CollectionMeta = { table: string; indexes: { key: Record<string, unknown> }[] | null };

/** The GIN indexes the collections of `dbName` should have; undefined when it is not FerretDB's. */
async function wantedIndexes(client: pg.Client, dbName: string): Promise<Wanted[] | undefined> {
  const exists = await client.query(
    `SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = '_ferretdb_database_metadata'`,
    [dbName],
  );
  if (!exists.rowCount) return undefined;
  const meta = await client.query<CollectionMeta>(
    `SELECT _jsonb->>'table' AS table, _jsonb->'indexes' AS indexes FROM ${ident(dbName)}._ferretdb_database_metadata`,
  );
  const wanted = new Map<string, Wanted>();
  for (const { table, indexes } of meta.rows) {
    const fields = new Set(['_id']);
    for (const ix of indexes ?? []) {
      for (const [field, dir] of Object.entries(ix.key ?? {})) {
        if ((dir === 1 || dir === -1) && !field.includes('.') && !field.startsWith('$')) fields.add(field);
      }
    }
    for (const field of fields) {
      const name = indexName(table, field);
      wanted.set(name, {
        name,
        sql:
          `CREATE INDEX IF NOT EXISTS ${ident(name)} ON ${ident(dbName)}.${ident(table)} ` +
          `USING gin ((_jsonb -> ${literal(field)}) jsonb_path_ops)`,
      });
    }
  }
  return [...wanted.values()];
}

/** `lf_<table>_<hash of field>_gin`, within PostgreSQL's 63-byte identifiers. */
export function indexName(table: string, field: string): string {
  const h = createHash('sha1').update(field).digest('hex').slice(0, 8);
  return `lf_${table.slice(0, 44)}_${h}_gin`;
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
