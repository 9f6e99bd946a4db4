import { type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../helpers/processes.js';
import { killProcess, startFerretdb, tcpRelay } from '../helpers/private-servers.js';

// FerretDB v1 loads its list of databases (the schemas of its PostgreSQL database) once and caches
// it. v1.24.1 checked the rows' error before reading them, so a connection lost while the list was
// streaming cached a partial one: every database it missed then read as empty and refused every
// write (SQLSTATE 42P07) until a restart. scripts/ferretdb.patch checks it after the rows
// (docs/embedded-database.md, 5.). This file runs a private FerretDB, on a PostgreSQL database of its
// own, through a relay that cuts the connection at the first row of that list, once.
const postgresUrl = inject('embeddedPostgresUrl');
const d = postgresUrl ? describe : describe.skip;

const pgDatabase = `leadflow_registry_${process.pid}`;
const dir = mkdtempSync(path.join(tmpdir(), 'leadflow-registry-'));
/**
 * A relay to PostgreSQL (tcpRelay) that, armed, waits for a query whose text contains `needle` and
 * resets the connection at the first DataRow of its answer (the query itself has gone through), once.
 */
function cuttingRelay(target: URL, port: number, needle: string) {
  const state = { armed: false, cuts: 0 };
  const relay = tcpRelay(target, port, (client, upstream) => {
    let watching = false;
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      if (state.armed && chunk.includes(needle)) watching = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!watching || !state.armed) return void client.write(chunk);
      // read whole protocol messages (type byte, 4-byte length); pass on those before a DataRow
      pending = Buffer.concat([pending, chunk]);
      let off = 0;
      while (pending.length - off >= 5) {
        if (pending[off] === 0x44 /* 'D' */) {
          client.write(pending.subarray(0, off));
          state.armed = false;
          state.cuts++;
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
        const len = pending.readUInt32BE(off + 1);
        if (pending.length - off < 1 + len) break;
        off += 1 + len;
      }
      client.write(pending.subarray(0, off));
      pending = pending.subarray(off);
    });
  });
  return { ...relay, state };
}

let admin: pg.Client | undefined;
let relay: ReturnType<typeof cuttingRelay> | undefined;
let ferret: ChildProcess | undefined;
let mongoPort = 0;
let relayPort = 0;

async function startFerret(): Promise<void> {
  const url = new URL(postgresUrl);
  url.port = String(relayPort);
  url.pathname = `/${pgDatabase}`;
  mongoPort = await freePort();
  ferret = await startFerretdb(
    ['--handler=postgresql', `--postgresql-url=${url.toString()}`],
    dir,
    mongoPort,
  );
}

const client = () =>
  MongoClient.connect(`mongodb://127.0.0.1:${mongoPort}/`, {
    directConnection: true,
    serverSelectionTimeoutMS: 5000,
    retryReads: false,
    retryWrites: false,
  });

beforeAll(async () => {
  if (!postgresUrl) return;
  admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${pgDatabase}`);
  await admin.query(`CREATE DATABASE ${pgDatabase}`);
  relayPort = await freePort();
  relay = cuttingRelay(new URL(postgresUrl), relayPort, 'information_schema.schemata');
  await relay.open();
  await startFerret();
});

afterAll(async () => {
  await killProcess(ferret);
  await relay?.cut();
  if (admin) {
    await admin.query(`DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
});

d('FerretDB reads its list of databases in full or not at all', () => {
  it('when the PostgreSQL connection drops while FerretDB lists its databases, then the next request reads the data and takes a write', async () => {
    // a database with a document, written by a FerretDB that started normally
    const seed = await client();
    await seed
      .db('kept')
      .collection('leads')
      .insertOne({ _id: 'a' as never, email: 'a@example.com' });
    await seed.close();

    // a fresh FerretDB (empty registry) whose first listing of databases loses its connection
    await killProcess(ferret);
    relay!.state.armed = true;
    await startFerret();
    const c = await client();
    try {
      // the request that meets the cut fails (unpatched, it answered as if nothing had happened)
      await c
        .db('admin')
        .command({ ping: 1 })
        .catch(() => undefined);
      expect(relay!.state.cuts).toBe(1);

      // unpatched, from here on: no databases, no documents, and every write refused with 42P07
      const names = (await c.db('admin').admin().listDatabases()).databases.map((db) => db.name);
      expect(names).toContain('kept');
      expect(await c.db('kept').collection('leads').find({}).toArray()).toEqual([
        { _id: 'a', email: 'a@example.com' },
      ]);
      await c
        .db('kept')
        .collection('leads')
        .insertOne({ _id: 'b' as never, email: 'b@example.com' });
      expect(await c.db('kept').collection('leads').countDocuments()).toBe(2);
    } finally {
      await c.close();
    }
  }, 60_000);
});
