import mongoose from 'mongoose';
import { beforeAll, describe, expect, it } from 'vitest';
import { advanceClock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/lib/logger.js';
import { checkSla, Handoff } from '../../src/modules/handoff/index.js';
import { startHandoffWorker } from '../../workers/handoff.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { makeLead, qualify } from '../helpers/handoff.js';
import { startSmtpSink } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

const sink = await startSmtpSink();
const HOUR = 3_600_000;
const log = createLogger('silent', 'test');

describe('handoff SLA over an injected clock', () => {
  const env = useTestEnv({ SMTP_URL: sink.url });
  let sales: string;
  beforeAll(async () => {
    sales = await env.keyFor('sales');
    await mongoose.connection
      .db!.collection<{ _id: number; [k: string]: unknown }>('qualificationagreements')
      .insertOne({
        _id: 3,
        slaHours: 2,
        agreedBy: { marketing: 'M', sales: 'S' },
      });
    for (const id of ['dee', 'eve']) {
      const res = await env
        .http()
        .put(`/api/reps/${id}`)
        .set({ Authorization: `Bearer ${ADMIN_KEY}` })
        .send({ name: id, email: `${id}@sales.test` });
      expect(res.status).toBe(200);
    }
    startHandoffWorker(env.rt);
    return () => sink.close();
  });
  const mailsTo = (addr: string) => sink.messages.filter((m) => m.envelopeTo.includes(addr));

  it(
    'when nobody responds, then the owner is reminded, then the next rep gets it, then it expires, each step visible',
    { timeout: 120_000 },
    async () => {
      const lead = await makeLead();
      const id = await qualify(lead._id, { agreementVersion: 3 });
      const h = await waitFor(
        async () => {
          const x = await Handoff.findById(id).lean();
          return x?.notificationStatus === 'sent' ? x : undefined;
        },
        { timeout: 60_000 },
      );
      const first = h.ownerId!;
      const other = first === 'dee' ? 'eve' : 'dee';
      expect(h.slaHours).toBe(2);
      expect(h.slaDueAt!.getTime() - h.notifiedAt!.getTime()).toBeLessThanOrEqual(2 * HOUR);
      await waitFor(() => mailsTo(`${first}@sales.test`).length === 1);

      // not yet due: nothing happens
      expect(await checkSla(env.rt, log)).toEqual({ reminded: 0, reassigned: 0, expired: 0 });

      advanceClock(2 * HOUR + 60_000);
      expect((await checkSla(env.rt, log)).reminded).toBe(1);
      const reminders = await waitFor(() =>
        mailsTo(`${first}@sales.test`).length === 2 ? mailsTo(`${first}@sales.test`) : undefined,
      );
      expect(String(reminders[1]!.parsed.subject)).toMatch(/^Reminder/);
      // a second check at the same time does not remind again
      expect((await checkSla(env.rt, log)).reminded).toBe(0);

      advanceClock(2 * HOUR + 60_000);
      expect((await checkSla(env.rt, log)).reassigned).toBe(1);
      const moved = (await Handoff.findById(id).lean())!;
      expect(moved.ownerId).toBe(other);
      expect(moved.owners).toEqual([first, other]);
      const [m] = await waitFor(() =>
        mailsTo(`${other}@sales.test`).length ? mailsTo(`${other}@sales.test`) : undefined,
      );
      expect(String(m!.parsed.subject)).toMatch(/^Reassigned to you/);

      advanceClock(2 * HOUR + 60_000);
      expect((await checkSla(env.rt, log)).expired).toBe(1);
      const res = await env
        .http()
        .get(`/api/handoffs?status=expired`)
        .set({ Authorization: `Bearer ${sales}` });
      const shown = res.body.items.find((x: { id: string }) => x.id === id);
      expect(shown.status).toBe('expired');
      expect(shown.history.map((e: { action: string }) => e.action)).toEqual(
        expect.arrayContaining([
          'created',
          'converted',
          'assigned',
          'notification_sent',
          'sla_reminder',
          'sla_reassign',
          'reassigned',
          'expired',
        ]),
      );
      const kinds = (
        await env
          .http()
          .get(`/api/leads/${lead._id}/timeline`)
          .set({ Authorization: `Bearer ${sales}` })
      ).body.items.map((e: { kind: string }) => e.kind);
      expect(kinds).toEqual(
        expect.arrayContaining([
          'handoff_sla_reminder',
          'handoff_sla_reassign',
          'handoff_reassigned',
          'handoff_expired',
        ]),
      );
      expect(mailsTo(`${first}@sales.test`)).toHaveLength(2);
      expect(mailsTo(`${other}@sales.test`)).toHaveLength(1);
    },
  );
});
