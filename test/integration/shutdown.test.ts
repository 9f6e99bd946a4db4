import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { getQueue } from '../../src/queues/index.js';
import { readSetting } from '../../src/lib/settings.js';
import { startProcess, tsxBin } from '../helpers/processes.js';
import { useTestEnv } from '../helpers/env.js';

const env = useTestEnv();

describe('graceful shutdown', () => {
  it('when SIGTERM arrives during a job, then the job finishes before the process exits', async () => {
    const worker = startProcess(tsxBin, ['test/fixtures/slow-job-worker.ts'], {
      MONGODB_URI: inject('mongodbUri'),
      REDIS_URL: inject('redisUrl'),
      QUEUE_PREFIX: env.config.queuePrefix,
      TEST_DB: env.dbName,
      LOG_LEVEL: 'warn',
      JOB_MS: '1500',
    });
    await worker.waitForOutput(/^ready$/m);
    const jobId = `sigterm-${randomBytes(3).toString('hex')}`;
    await getQueue('maintenance').add('maintenance', { task: 'heartbeat' }, { jobId });
    await worker.waitForOutput(new RegExp(`started ${jobId}`));
    worker.child.kill('SIGTERM');
    const { code } = await worker.exited;
    expect(code).toBe(0);
    expect(await readSetting<boolean>(`finished-${jobId}`)).toBe(true);
    const job = await getQueue('maintenance').getJob(jobId);
    expect(await job?.getState()).toBe('completed');
  });
});
