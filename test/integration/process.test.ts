import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deleteQueueKeys } from '../helpers/env.js';
import { freePort, startProcess, tsxBin } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const id = randomBytes(4).toString('hex');
const dbName = `test_proc_${id}`;
const uri = new URL(inject('mongodbUri'));
uri.pathname = `/${dbName}`;
let conn: mongoose.Connection;

beforeAll(async () => {
  conn = await mongoose.createConnection(uri.toString()).asPromise();
});
afterAll(async () => {
  await conn.dropDatabase();
  await conn.close();
  await deleteQueueKeys(inject('redisUrl'), `lf-${id}`);
});

/** `npm start`'s entry point as its own process, on this file's database and queue prefix. */
async function startMain(extraEnv: Record<string, string> = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'leadflow-proc-'));
  const proc = startProcess(tsxBin, ['src/main.ts'], {
    PORT: String(port),
    MONGODB_URI: uri.toString(),
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: `lf-${id}`,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...extraEnv,
  });
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200,
    { timeout: 60_000, what: '/readyz 200' },
  );
  return { proc, port, dataDir };
}

describe('npm start (API + workers + scheduler in one process)', () => {
  it('when started without ADMIN_API_KEY, then it serves /readyz, prints a working admin key, and exits cleanly on SIGTERM', async () => {
    const { proc, port, dataDir } = await startMain();
    try {
      const [, key] = await proc.waitForOutput(/admin API key \(kept in .*\): (lf_\S+)/, 60_000);
      expect(readFileSync(path.join(dataDir, 'admin-api-key'), 'utf8').trim()).toBe(key);
      for (const kind of ['maintenance', 'email', 'nurture', 'lead-captured']) {
        expect(proc.output()).toContain(`"${kind}"`);
      }
      expect(proc.output()).toContain('scheduler running');
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(await ready.json()).toEqual({ status: 'ready', mongodb: true, redis: true });
      const keys = await fetch(`http://127.0.0.1:${port}/api/keys`, {
        headers: { Authorization: `Bearer ${key}` },
      });
      expect(keys.status).toBe(200);
    } finally {
      proc.child.kill('SIGTERM');
    }
    const { code } = await proc.exited;
    expect(code).toBe(0);
    expect(proc.output()).toContain('shutdown complete');
  });

  it('when SIGTERM arrives during a request, then the request finishes and is answered before the process exits', async () => {
    const adminKey = 'proc-admin-key-0123456789abcdef';
    const { proc, port } = await startMain({ ADMIN_API_KEY: adminKey });
    // a CSV upload streamed in two parts: the request is in flight while the signal arrives
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/imports?source=Shutdown%20test',
          headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'text/csv' },
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('Email,First Name\nfirst@example.com,First\n');
      void (async () => {
        // the import has started (its record exists), then the signal, then the rest of the body
        await waitFor(async () => (await conn.collection('imports').countDocuments()) === 1, {
          what: 'import started',
        });
        proc.child.kill('SIGTERM');
        await proc.waitForOutput(/shutting down/);
        req.end('second@example.com,Second\n');
      })().catch(reject);
    });
    const res = await answer;
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body)).toMatchObject({ rows: 2, created: 2, rejected: 0 });
    const { code } = await proc.exited;
    expect(code).toBe(0);
    expect(
      await conn
        .collection('leads')
        .countDocuments({ emailKey: { $in: ['first@example.com', 'second@example.com'] } }),
    ).toBe(2);
  });
});
