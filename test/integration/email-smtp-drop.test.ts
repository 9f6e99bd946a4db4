import { Types } from 'mongoose';
import { afterAll, describe, expect, it } from 'vitest';
import { createMailer } from '../../src/lib/mailer.js';
import { classifySmtpError, deliverSend, reconcileSends } from '../../src/modules/email/index.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { useTestEnv } from '../helpers/env.js';
import { makeLead, uid } from '../helpers/factories.js';
import { startSmtpSink } from '../helpers/smtp.js';

// the server keeps the message of "drop" recipients, then closes the connection unanswered
const sink = await startSmtpSink({
  dropAfterData: (rcpt) => rcpt.startsWith('drop'),
  stallAfterData: (rcpt) => rcpt.startsWith('stall'),
});
afterAll(() => sink.close());
const env = useTestEnv({ SMTP_URL: sink.url });

describe('a connection the SMTP server closes after the message', () => {
  it('when the server takes the message and drops the connection before answering, then the send is unknown and never sent again', async () => {
    const lead = await makeLead({ email: `drop-${uid()}@example.com`, firstName: 'Ada' });
    const send = await EmailSend.create({
      sendKey: `${uid()}:hello`,
      leadId: lead._id,
      enrollmentId: new Types.ObjectId(),
      sequenceKey: 'welcome',
      stepId: 'hello',
      content: { subject: 'Hello', html: '<p>Hi</p>' },
      marketing: true,
    });
    const id = String(send._id);
    // before the fix nodemailer's ECONNECTION/"CONN" read as "never connected": retried, sent twice
    expect(await deliverSend(env.rt, id, env.rt.logger)).toEqual({ status: 'unknown' });
    expect(await deliverSend(env.rt, id, env.rt.logger)).toEqual({ status: 'unknown' });
    const stored = (await EmailSend.findById(id).lean())!;
    expect(stored.status).toBe('unknown');
    expect(stored.attempts).toBe(1);
    expect(sink.messages.filter((m) => m.envelopeTo.includes(lead.email))).toHaveLength(1);
  });
});

describe('an SMTP server that takes the message and never answers', () => {
  it('when the server stalls after DATA, then the send gives up after SMTP_TIMEOUT_MS and reads as unknown, not retried', async () => {
    const mailer = createMailer({
      smtpUrl: sink.url,
      outboxDir: '/nonexistent',
      dkim: undefined,
      smtpTimeoutMs: 500,
    });
    try {
      const err = await mailer
        .send({ from: 'a@example.com', to: 'stall@example.com', subject: 's', text: 't' })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toMatchObject({ code: 'ETIMEDOUT' });
      expect(classifySmtpError(err, 'smtp')).toBe('unknown');
      expect(sink.messages.filter((m) => m.envelopeTo.includes('stall@example.com'))).toHaveLength(1);
    } finally {
      mailer.close();
    }
  });
});

describe('sends whose jobs a flushed Redis lost', () => {
  it('when a send was left sending 3 minutes ago with no job, then the default reconcile records it unknown; a pending one is enqueued again', async () => {
    const lead = await makeLead({ email: `flushed-${uid()}@example.com` });
    const base = {
      leadId: lead._id,
      enrollmentId: new Types.ObjectId(),
      sequenceKey: 'welcome',
      stepId: 'hello',
      content: { subject: 'Hello', html: '<p>Hi</p>' },
      marketing: true,
    };
    const sending = await EmailSend.create({ ...base, sendKey: `${uid()}:hello`, status: 'sending' });
    const pending = await EmailSend.create({ ...base, sendKey: `${uid()}:hello`, status: 'pending' });
    const fresh = await EmailSend.create({ ...base, sendKey: `${uid()}:hello`, status: 'sending' });
    const threeMinutesAgo = new Date(Date.now() - 3 * 60_000);
    await EmailSend.collection.updateMany(
      { _id: { $in: [sending._id, pending._id] } },
      { $set: { updatedAt: threeMinutesAgo } },
    );
    const r = await reconcileSends(env.rt);
    expect(r).toEqual({ requeued: 1, unknown: 1 });
    expect((await EmailSend.findById(sending._id).lean())!.status).toBe('unknown');
    // a send in sending for less than the wait may still be on the wire: left alone
    expect((await EmailSend.findById(fresh._id).lean())!.status).toBe('sending');
  });
});
