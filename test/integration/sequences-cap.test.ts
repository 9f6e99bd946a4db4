import { beforeAll, describe, expect, it } from 'vitest';
import { advanceClock } from '../../src/lib/clock.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { emailKey } from '../../src/modules/leads/normalize.js';
import { Enrollment, reconcileSequences } from '../../src/modules/sequences/index.js';
import { startNurtureWorker } from '../../workers/nurture.js';
import { useTestEnv } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';

const DAY = 24 * 3_600_000;

describe('frequency cap', () => {
  const env = useTestEnv({ FREQUENCY_CAP_COUNT: '2', FREQUENCY_CAP_WINDOW: '1d' });
  let key: string;
  beforeAll(async () => {
    key = await env.keyFor('marketing');
    startNurtureWorker(env.rt);
  });
  const put = (k: string, def: object) =>
    env.http().put(`/api/sequences/${k}`).set('Authorization', `Bearer ${key}`).send(def);
  const enroll = async (k: string, leadId: string) =>
    (
      await env
        .http()
        .post(`/api/sequences/${k}/enroll`)
        .set('Authorization', `Bearer ${key}`)
        .send({ leadId })
    ).body.id as string;

  it('when a lead would get more emails across sequences than the cap allows, then the extra one is deferred, not dropped', async () => {
    const step = (id: string) => ({ id, subject: id, text: id });
    await put('cap-a', { name: 'A', steps: [step('a1'), step('a2')] });
    await put('cap-b', { name: 'B', steps: [step('b1')] });
    const email = `cap-${Date.now()}@example.com`;
    const leadId = String((await Lead.create({ email, emailKey: emailKey(email) }))._id);
    const a = await enroll('cap-a', leadId);
    await waitFor(async () => (await EmailSend.countDocuments({ leadId })) === 2 || undefined);
    const b = await enroll('cap-b', leadId);
    const deferred = await waitFor(async () => {
      const e = await Enrollment.findById(b).lean();
      return e?.history.find((h) => h.action === 'deferred');
    });
    expect(deferred.detail).toMatch(/frequency cap/);
    expect(await EmailSend.countDocuments({ leadId })).toBe(2);
    expect((await Enrollment.findById(a).lean())!.state).toBe('completed');

    advanceClock(DAY + 60_000);
    await reconcileSequences(env.rt);
    await waitFor(async () => (await Enrollment.findById(b).lean())?.state === 'completed');
    expect((await EmailSend.find({ leadId }).lean()).map((s) => s.stepId).sort()).toEqual(['a1', 'a2', 'b1']);
  });
});
