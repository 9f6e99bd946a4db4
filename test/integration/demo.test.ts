import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deleteQueueKeys } from '../helpers/env.js';
import { freePort, startProcess, tsxBin, type Spawned } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

// `npm run demo` against `npm start`'s entry point as its own process (API, workers, scheduler)
// on this file's database, queue prefix and data dir; the demo finds the admin key the app
// generated there, exactly as it does after a plain `npm start`.
const id = randomBytes(4).toString('hex');
const dbName = `test_demo_${id}`;
const uri = new URL(inject('mongodbUri'));
uri.pathname = `/${dbName}`;
const dataDir = mkdtempSync(path.join(tmpdir(), 'leadflow-demo-'));
let conn: mongoose.Connection;
let app: Spawned;
let base: string;
let port: number;

beforeAll(async () => {
  conn = await mongoose.createConnection(uri.toString()).asPromise();
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  app = startProcess(tsxBin, ['src/main.ts'], {
    PORT: String(port),
    PUBLIC_URL: base,
    MONGODB_URI: uri.toString(),
    REDIS_URL: inject('redisUrl'),
    ...(inject('embeddedPostgresUrl') ? { EMBEDDED_POSTGRES_URL: inject('embeddedPostgresUrl') } : {}),
    QUEUE_PREFIX: `lf-demo-${id}`,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  });
  await app.waitForOutput(/admin API key \(kept in .*\): (lf_\S+)/, 90_000);
});

afterAll(async () => {
  app?.child.kill('SIGTERM');
  await app?.exited;
  await conn.dropDatabase();
  await conn.close();
  await deleteQueueKeys(inject('redisUrl'), `lf-demo-${id}`);
});

/** The demo as `npm run demo` runs it; `--quick` stops at the first handoff to keep this file short. */
async function runDemo(): Promise<{ code: number | null; out: string }> {
  const demo = startProcess(tsxBin, ['scripts/demo.ts', '--url', base, '--timeout', '90', '--quick'], {
    DATA_DIR: dataDir,
    PORT: String(port),
  });
  const { code } = await demo.exited;
  return { code, out: demo.output() };
}

async function get<T>(p: string, key = readFileSync(path.join(dataDir, 'admin-api-key'), 'utf8').trim()) {
  const res = await fetch(`${base}${p}`, { headers: { Authorization: `Bearer ${key}` } });
  expect(res.status, `GET ${p}`).toBe(200);
  return (await res.json()) as T;
}

type Items<T> = { items: T[] };
type Key = { id: string; name: string; role: string; repId: string | null; revokedAt: string | null };

/** What the scenario consists of, as the API shows it. */
async function snapshot() {
  const [forms, sequences, reps, leads, handoffs, keys, scoring, qualification] = await Promise.all([
    get<Items<{ id: string }>>('/api/forms'),
    get<Items<{ key: string; version: number }>>('/api/sequences'),
    get<Items<{ id: string; match: Record<string, string[]> }>>('/api/reps'),
    get<Items<{ id: string; email: string }>>('/api/leads?limit=500'),
    get<Items<{ id: string; leadId: string; ownerId: string | null }>>('/api/handoffs?limit=500'),
    get<Items<Key>>('/api/keys'),
    get<{ version: number }>('/api/scoring'),
    get<{ current: { version: number; agreedBy: unknown }; history: unknown[] }>('/api/qualification'),
  ]);
  return { forms, sequences, reps, leads, handoffs, keys, scoring, qualification };
}

describe('npm run demo', () => {
  it('when the app is not running, then it says to run npm start first and exits 1', async () => {
    const closed = await freePort();
    const demo = startProcess(tsxBin, ['scripts/demo.ts', '--url', `http://127.0.0.1:${closed}`], {
      DATA_DIR: dataDir,
    });
    expect((await demo.exited).code).toBe(1);
    expect(demo.output()).toMatch(/not answering.*\n.*npm start/);
  });

  it('when run against npm start, then leads arrive through the form and at least one is handed off; a second run duplicates nothing', async () => {
    const first = await runDemo();
    expect(first.code, `${first.out}\napp log:\n${app.output().slice(-4000)}`).toBe(0);
    expect(first.out).toContain('36 new leads, 0 already there');
    const before = await snapshot();

    expect(before.handoffs.items.length).toBeGreaterThanOrEqual(1);
    expect(before.forms.items.map((f) => f.id)).toEqual(['demo-request']);
    expect(before.sequences.items.map((s) => [s.key, s.version])).toEqual([['demo-nurture', 1]]);
    expect(before.reps.items.map((r) => [r.id, r.match.country])).toEqual([
      ['ana-us', ['US']],
      ['jonas-de', ['DE', 'AT', 'CH']],
    ]);
    expect(before.leads.items).toHaveLength(36);
    expect(before.scoring.version).toBe(1);
    expect(before.qualification.history).toHaveLength(1);
    expect(before.qualification.current.agreedBy).toEqual({
      marketing: 'Maria Keller (Marketing)',
      sales: 'Sam Ortiz (Sales)',
    });
    // a handed-off lead went to the rep of its territory
    const lead = await get<{ country: string; ownerId: string; status: string }>(
      `/api/leads/${before.handoffs.items[0]!.leadId}`,
    );
    expect(lead.status).toBe('converted');
    expect(lead.ownerId).toBe(lead.country === 'US' ? 'ana-us' : 'jonas-de');
    // the printed sales key is Ana's and works
    const salesKey = /sales {6}(lf_\S+)/.exec(first.out)?.[1];
    expect(salesKey).toBeDefined();
    await get('/api/handoffs', salesKey);
    const activeKeys = (s: typeof before) =>
      s.keys.items.filter((k) => k.name.startsWith('demo:') && !k.revokedAt).map((k) => [k.role, k.repId]);
    expect(activeKeys(before)).toEqual([
      ['marketing', null],
      ['sales', 'ana-us'],
    ]);

    const second = await runDemo();
    expect(second.code, `${second.out}\napp log:\n${app.output().slice(-4000)}`).toBe(0);
    expect(second.out).toContain('0 new leads, 36 already there');
    expect(second.out).toContain(salesKey);
    const after = await snapshot();
    expect(after.forms.items).toHaveLength(1);
    expect(after.sequences.items.map((s) => [s.key, s.version])).toEqual([['demo-nurture', 1]]);
    expect(after.reps.items).toHaveLength(2);
    expect(after.leads.items.map((l) => l.id).sort()).toEqual(before.leads.items.map((l) => l.id).sort());
    expect(after.scoring.version).toBe(1);
    expect(after.qualification.history).toHaveLength(1);
    expect(after.keys.items.map((k) => k.id)).toEqual(before.keys.items.map((k) => k.id));
    const handedOff = after.handoffs.items.map((h) => h.leadId);
    expect(new Set(handedOff).size).toBe(handedOff.length);
    await waitFor(async () => (await snapshot()).handoffs.items.every((h) => h.ownerId), {
      timeout: 20_000,
      what: 'every handoff assigned',
    });
  }, 150_000);
});
