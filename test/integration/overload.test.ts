import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmailClaim } from '../../src/modules/leads/email-claim.model.js';
import { Lead, LeadEvent } from '../../src/modules/leads/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { freePort } from '../helpers/processes.js';
import { killProcess, startFerretdb } from '../helpers/private-servers.js';
import { waitFor } from '../helpers/wait.js';

// This file freezes its database server (SIGSTOP), so it runs a private FerretDB.
const mongoPort = await freePort();
const dir = mkdtempSync(path.join(tmpdir(), 'leadflow-overload-'));
const ferret = await startFerretdb(['--handler=sqlite', `--sqlite-url=file:${dir}/`], dir, mongoPort);
// a frozen (SIGSTOPped) FerretDB is woken before it is killed
afterAll(() => killProcess(ferret));

const auth = { Authorization: `Bearer ${ADMIN_KEY}` };

describe('overload is not an error: a stalled database answers 503 with Retry-After', () => {
  // a tiny pool and short limits, so the stall shows as an exhausted pool and as socket timeouts
  const env = useTestEnv({
    MONGODB_URI: `mongodb://127.0.0.1:${mongoPort}/overload`,
    MONGODB_POOL_SIZE: '2',
    MONGODB_WAIT_QUEUE_TIMEOUT_MS: '500',
    MONGODB_SOCKET_TIMEOUT_MS: '1500',
    MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1000',
  });
  const post = (email: string) => env.http().post('/api/leads').set(auth).send({ email, firstName: 'Busy' });

  it('when the database stops answering, then concurrent submissions get 503 (never 500), nothing half-done stays, and retries land once', async () => {
    const emails = Array.from({ length: 8 }, (_, i) => `busy${i}@example.com`);
    // warm up (the registry, the pool); a busy machine may need a retry within the short limits
    await waitFor(async () => (await post('warm@example.com')).status < 300, { what: 'a first capture' });

    ferret.kill('SIGSTOP');
    let answers: { status: number; body: { error?: { code: string } }; headers: Record<string, string> }[];
    try {
      answers = await Promise.all(emails.map((e) => post(e)));
    } finally {
      ferret.kill('SIGCONT');
    }
    for (const a of answers) {
      expect(a.status, JSON.stringify(a.body)).toBe(503);
      expect(a.body.error!.code).toBe('unavailable');
      expect(Number(a.headers['retry-after'])).toBeGreaterThan(0);
    }
    // reads and lists answer 503 the same way while the server is stalled
    ferret.kill('SIGSTOP');
    let list: { status: number; body: { error?: { code: string } } };
    try {
      list = await env.http().get('/api/leads').set(auth);
    } finally {
      ferret.kill('SIGCONT');
    }
    expect(list.status).toBe(503);
    expect(list.body.error!.code).toBe('unavailable');

    await waitFor(async () => (await env.http().get('/readyz')).status === 200, {
      timeout: 30_000,
      what: 'the database answering again',
    });
    // no lead and no event from the refused submissions; at most an address claim, which the retry uses
    expect(await Lead.countDocuments({ emailKey: { $in: emails } })).toBe(0);
    expect(await LeadEvent.countDocuments({ 'properties.submission.emailKey': { $in: emails } })).toBe(0);
    const claims = new Map(
      (await EmailClaim.find({ _id: { $in: emails } }).lean()).map((c) => [c._id, String(c.leadId)]),
    );

    for (const email of emails) {
      const retry = await post(email);
      expect(retry.status, JSON.stringify(retry.body)).toBe(201);
      if (claims.has(email)) expect(retry.body.id).toBe(claims.get(email));
    }
    expect(await Lead.countDocuments({ emailKey: { $in: emails } })).toBe(emails.length);
  });
});
