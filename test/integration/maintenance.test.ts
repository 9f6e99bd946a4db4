import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { maintenanceProcessor } from '../../src/modules/maintenance/maintenance.jobs.js';
import { IdempotencyKey } from '../../src/modules/leads/idempotency.model.js';
import { readSetting } from '../../src/lib/settings.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';

const env = useTestEnv();
const log = createLogger('silent');
const run = (task: 'heartbeat' | 'cleanup') =>
  maintenanceProcessor(env.rt)({ task }, { log }) as Promise<{ handled: boolean; result: unknown }>;

describe('maintenance tasks', () => {
  it('when the heartbeat runs, then the scheduler beat is recorded', async () => {
    await run('heartbeat');
    const beat = await readSetting<string>('scheduler.heartbeat');
    expect(Date.now() - Date.parse(beat!)).toBeLessThan(60_000);
  });

  it('when cleanup runs, then only Idempotency-Key claims older than a day are purged', async () => {
    const post = (key: string) =>
      env
        .http()
        .post('/api/leads')
        .set('Authorization', `Bearer ${ADMIN_KEY}`)
        .set('Idempotency-Key', key)
        .send({ email: `${key}@example.com` });
    expect((await post('old-key')).status).toBe(201);
    expect((await post('new-key')).status).toBe(201);
    // the first claim was made 25 hours ago
    await IdempotencyKey.collection.updateOne(
      { key: { $regex: 'old-key$' } },
      { $set: { createdAt: new Date(Date.now() - 25 * 3600 * 1000) } },
    );
    const out = await run('cleanup');
    expect(out).toMatchObject({ handled: true, result: { idempotencyKeysPurged: 1 } });
    const left = (await IdempotencyKey.find({}, { key: 1 }).lean()).map((k) => k.key);
    expect(left).toHaveLength(1);
    expect(left[0]).toContain('new-key');
  });
});
