import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { freePort, listening } from '../helpers/processes.js';
import { killProcess, startFerretdb, tcpRelay } from '../helpers/private-servers.js';
import { waitFor } from '../helpers/wait.js';

// This file stops and restarts its servers, so it runs private ones rather than the shared pair:
// a private Redis, and a private FerretDB on the shared PostgreSQL when the embedded default is
// FerretDB-on-PostgreSQL (on SQLite files of its own otherwise, e.g. when MONGODB_URI is real MongoDB).
const redisPort = await freePort();
const mongoPort = await freePort();
const dir = mkdtempSync(path.join(tmpdir(), 'leadflow-readyz-'));

const startRedis = () =>
  spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
const postgresUrl = inject('embeddedPostgresUrl');

// the private FerretDB reaches the shared PostgreSQL through a relay (tcpRelay), so a test can
// take the database behind the MongoDB server away (`cut`: open connections reset, new ones
// refused) without touching the shared server
const relayPort = await freePort();
const relay = postgresUrl ? tcpRelay(new URL(postgresUrl), relayPort) : undefined;
await relay?.open();
const relayedUrl = () => {
  const u = new URL(postgresUrl!);
  u.port = String(relayPort);
  return u.toString();
};
const backend = postgresUrl
  ? ['--handler=postgresql', `--postgresql-url=${relayedUrl()}`]
  : ['--handler=sqlite', `--sqlite-url=file:${dir}/`];
const startFerret = () => startFerretdb(backend, dir, mongoPort);

let redis = startRedis();
let ferret = await startFerret();
await waitFor(() => listening(redisPort), { what: 'private redis' });
afterAll(async () => {
  await Promise.all([killProcess(redis), killProcess(ferret), relay?.cut()]);
});

const env = useTestEnv({
  MONGODB_URI: `mongodb://127.0.0.1:${mongoPort}/readyz`,
  REDIS_URL: `redis://127.0.0.1:${redisPort}`,
});

const readyz = async () => {
  const res = await env.http().get('/readyz');
  return { status: res.status, body: res.body as { mongodb: boolean; redis: boolean } };
};

describe('/readyz follows the backing servers without a restart', () => {
  it('when both answer, then 200', async () => {
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready', mongodb: true, redis: true } });
  });

  it('when Redis stops, then 503 naming Redis; when it returns, then 200 again', async () => {
    await killProcess(redis);
    const down = await waitFor(async () => {
      const r = await readyz();
      return r.status === 503 ? r : undefined;
    });
    expect(down.body).toMatchObject({ mongodb: true, redis: false });
    redis = startRedis();
    await waitFor(async () => (await readyz()).status === 200, { timeout: 20_000, what: 'redis back' });
  });

  it.runIf(postgresUrl)(
    'when the database behind the MongoDB server goes away (FerretDB without its PostgreSQL), then 503 with Retry-After, not 500, and nothing written',
    async () => {
      const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
      // this runs before the test that restarts FerretDB: under load, a FerretDB v1 restarted on
      // PostgreSQL can refuse every write to a database made before the restart (its metadata
      // registry tries to create the database again: SQLSTATE 42P07, answered 503; docs/faults.md)
      const before = await env.http().post('/api/leads').set(auth).send({ email: 'before@outage.example' });
      expect(before.status, JSON.stringify(before.body)).toBe(201);
      await relay!.cut();
      const during = await env.http().post('/api/leads').set(auth).send({ email: 'during@outage.example' });
      expect(during.status).toBe(503);
      expect(during.body.error.code).toBe('unavailable');
      expect(during.headers['retry-after']).toBe('5');
      const read = await env.http().get('/api/leads?limit=5').set(auth);
      expect(read.status).toBe(503);
      // readiness names the server that is down, and says Redis is still fine
      expect(await readyz()).toEqual({
        status: 503,
        body: { status: 'unavailable', mongodb: false, redis: true },
      });
      await relay!.open();
      const back = await waitFor(
        async () => {
          const r = await env.http().get('/api/leads?email=during@outage.example').set(auth);
          return r.status === 200 ? r : undefined;
        },
        { timeout: 30_000, what: 'postgresql back' },
      );
      expect(back.body.items).toEqual([]);
      await waitFor(async () => (await readyz()).status === 200, { timeout: 30_000, what: 'ready again' });
      const retry = await env.http().post('/api/leads').set(auth).send({ email: 'during@outage.example' });
      expect(retry.status).toBe(201);
    },
  );

  it('when the MongoDB server stops, then 503 naming MongoDB; when it returns, then 200 again', async () => {
    await killProcess(ferret);
    const down = await waitFor(async () => {
      const r = await readyz();
      return r.status === 503 ? r : undefined;
    });
    expect(down.body).toMatchObject({ mongodb: false, redis: true });
    // while MongoDB is away, a write answers 503 unavailable, not 500, and not a hang
    const write = await env
      .http()
      .post('/api/keys')
      .set('Authorization', 'Bearer test-admin-key-0123456789abcdef')
      .send({ name: 'x', role: 'sales' });
    expect(write.status).toBe(503);
    expect(write.body.error.code).toBe('unavailable');
    ferret = await startFerret();
    await waitFor(async () => (await readyz()).status === 200, { timeout: 30_000, what: 'mongodb back' });
  });
});
