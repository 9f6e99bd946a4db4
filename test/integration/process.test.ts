import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { deleteQueueKeys } from '../helpers/env.js';
import { freePort, startProcess, tsxBin } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

describe('npm start (API + workers + scheduler in one process)', () => {
  const id = randomBytes(4).toString('hex');
  const dbName = `test_proc_${id}`;
  const uri = new URL(inject('mongodbUri'));
  uri.pathname = `/${dbName}`;
  afterAll(async () => {
    const conn = await mongoose.createConnection(uri.toString()).asPromise();
    await conn.dropDatabase();
    await conn.close();
    await deleteQueueKeys(inject('redisUrl'), `lf-${id}`);
  });

  it('when started without ADMIN_API_KEY, then it serves /readyz, prints a working admin key, and exits cleanly on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'leadflow-proc-'));
    const proc = startProcess(tsxBin, ['src/main.ts'], {
      PORT: String(port),
      MONGODB_URI: uri.toString(),
      REDIS_URL: inject('redisUrl'),
      QUEUE_PREFIX: `lf-${id}`,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
    });
    try {
      const [, key] = await proc.waitForOutput(/admin API key \(kept in .*\): (lf_\S+)/, 60_000);
      expect(readFileSync(path.join(dataDir, 'admin-api-key'), 'utf8').trim()).toBe(key);
      expect(proc.output()).toMatch(/"kinds":\["maintenance"/);
      expect(proc.output()).toContain('scheduler running');
      const ready = await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/readyz`);
        return r.status === 200 ? r : undefined;
      });
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
});
