import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Setting } from '../../src/lib/settings.js';
import { EmailClaim } from '../../src/modules/leads/email-claim.model.js';
import { forgetEmailRegistryState } from '../../src/modules/leads/email-registry.service.js';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { freePort, startProcess, tsxBin, type Spawned } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
const MINUTE = 60_000;

describe('the email registry (one lead per address, by an _id-keyed claim)', () => {
  const env = useTestEnv();
  const post = (body: object) => env.http().post('/api/leads').set(auth).send(body);
  const claimOf = (key: string) => EmailClaim.findById(key).lean();

  describe('two API processes', () => {
    const apis: { proc: Spawned; port: number }[] = [];
    beforeAll(async () => {
      const uri = new URL(inject('mongodbUri'));
      uri.pathname = `/${env.dbName}`;
      for (let i = 0; i < 2; i++) {
        const port = await freePort();
        const proc = startProcess(tsxBin, ['src/server.ts'], {
          PORT: String(port),
          MONGODB_URI: uri.toString(),
          REDIS_URL: env.config.redisUrl,
          QUEUE_PREFIX: env.config.queuePrefix,
          ADMIN_API_KEY: ADMIN_KEY,
          DATA_DIR: mkdtempSync(path.join(tmpdir(), 'leadflow-registry-')),
          LOG_LEVEL: 'warn',
        });
        apis.push({ proc, port });
      }
      for (const { port } of apis) {
        await waitFor(
          async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200,
          { timeout: 150_000, what: `API on ${port} ready` },
        );
      }
    }, 320_000);
    afterAll(async () => {
      for (const { proc } of apis) proc.child.kill('SIGTERM');
      await Promise.all(apis.map((a) => a.proc.exited));
    });

    it('when 50 submissions of one email arrive at once through two processes, then one lead exists and every answer is 200/201', async () => {
      const email = `Race.${Date.now()}@Example.com`;
      const answers = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const res = await fetch(`http://127.0.0.1:${apis[i % 2]!.port}/api/leads`, {
            method: 'POST',
            headers: { ...auth, 'Content-Type': 'application/json' },
            body: JSON.stringify({ email, firstName: `Ada${i}` }),
          });
          return { status: res.status, body: (await res.json()) as { id: string } };
        }),
      );
      const statuses = answers.map((a) => a.status);
      expect(
        statuses.every((s) => s === 200 || s === 201),
        JSON.stringify(answers.filter((a) => a.status >= 300)),
      ).toBe(true);
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      const key = email.toLowerCase();
      const leads = await Lead.find({ emailKey: key }).lean();
      expect(leads).toHaveLength(1);
      expect(new Set(answers.map((a) => a.body.id))).toEqual(new Set([String(leads[0]!._id)]));
      expect(String((await claimOf(key))!.leadId)).toBe(String(leads[0]!._id));
    });
  });

  it('when a lead changes its email, then the claim moves: the new address lands on it, the old one is free, a taken one is 409', async () => {
    const a = (await post({ email: 'move-a@example.com', firstName: 'A' })).body.id as string;
    const b = (await post({ email: 'move-b@example.com', firstName: 'B' })).body.id as string;

    const taken = await env.http().patch(`/api/leads/${a}`).set(auth).send({ email: 'Move-B@example.com' });
    expect(taken.status).toBe(409);
    expect(String((await claimOf('move-a@example.com'))!.leadId)).toBe(a);

    const moved = await env.http().patch(`/api/leads/${a}`).set(auth).send({ email: 'Move-C@example.com' });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.email).toBe('Move-C@example.com');
    expect(await claimOf('move-a@example.com')).toBeNull();
    expect(String((await claimOf('move-c@example.com'))!.leadId)).toBe(a);

    const again = await post({ email: 'move-c@example.com' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(a);
    const old = await post({ email: 'move-a@example.com' });
    expect(old.status).toBe(201);
    expect([a, b]).not.toContain(old.body.id);
  });

  it('when leads are merged, then a merged address still lands on the survivor; when erased, every address is free', async () => {
    const s = (await post({ email: 'survivor@example.com' })).body.id as string;
    const m = (await post({ email: 'merged@example.com' })).body.id as string;
    expect(
      (
        await env
          .http()
          .post(`/api/leads/${s}/merge`)
          .set(auth)
          .send({ ids: [m] })
      ).status,
    ).toBe(200);
    const repeat = await post({ email: 'MERGED@example.com', company: 'Filled' });
    expect(repeat.status).toBe(200);
    expect(repeat.body.id).toBe(s);
    expect(repeat.body.company).toBe('Filled');

    expect((await env.http().delete(`/api/leads/${m}`).set(auth)).status).toBe(204);
    expect(
      await EmailClaim.countDocuments({ _id: { $in: ['survivor@example.com', 'merged@example.com'] } }),
    ).toBe(0);
    expect(await Lead.countDocuments({ _id: { $in: [s, m].map((x) => new Types.ObjectId(x)) } })).toBe(0);
    const back = await post({ email: 'merged@example.com' });
    expect(back.status).toBe(201);
    expect([s, m]).not.toContain(back.body.id);
  });

  it('when a capture died after claiming (a claim without its lead), then the next submission creates the lead under the claimed id', async () => {
    const orphan = new Types.ObjectId();
    await EmailClaim.create({ _id: 'orphan@example.com', leadId: orphan, at: new Date() });
    const res = await post({ email: 'orphan@example.com', firstName: 'Olga' });
    expect(res.status).toBe(201);
    expect(res.body.id).toBe(String(orphan));
    expect(await Lead.countDocuments({ emailKey: 'orphan@example.com' })).toBe(1);
  });

  it('when a PATCH died after claiming (the claim names a lead with another address), then it is honoured for a minute and freed after', async () => {
    const other = (await post({ email: 'elsewhere@example.com' })).body.id as string;
    const leadId = new Types.ObjectId(other);
    await EmailClaim.create({ _id: 'fresh-claim@example.com', leadId, at: new Date() });
    const inFlight = await post({ email: 'fresh-claim@example.com' });
    expect(inFlight.status).toBe(200);
    expect(inFlight.body.id).toBe(other);

    await EmailClaim.create({ _id: 'stale@example.com', leadId, at: new Date(Date.now() - 2 * MINUTE) });
    const freed = await post({ email: 'stale@example.com' });
    expect(freed.status).toBe(201);
    expect(freed.body.id).not.toBe(other);
    expect(String((await claimOf('stale@example.com'))!.leadId)).toBe(freed.body.id);
  });

  it('when a database predates the registry, then its leads get their claims before the first capture and nothing is duplicated', async () => {
    const legacyId = new Types.ObjectId();
    const now = new Date();
    await Lead.collection.insertOne({
      _id: legacyId,
      email: 'legacy@example.com',
      emailKey: 'legacy@example.com',
      status: 'open',
      lifecycleStage: 'lead',
      attributes: {},
      createdAt: now,
      updatedAt: now,
    });
    // this process and database now behave as before the registry: no claims, no marker
    await Setting.deleteOne({ _id: 'leads.emailRegistry' });
    forgetEmailRegistryState();
    const res = await post({ email: 'Legacy@example.com', firstName: 'Lee' });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(String(legacyId));
    expect(res.body.firstName).toBe('Lee');
    expect(await Lead.countDocuments({ emailKey: 'legacy@example.com' })).toBe(1);
    expect(await Setting.exists({ _id: 'leads.emailRegistry' })).not.toBeNull();
  });
});
