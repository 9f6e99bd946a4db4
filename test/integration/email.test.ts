import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { LeadEvent } from '../../src/modules/events/index.js';
import { deliverSend, isSuppressed, reconcileSends } from '../../src/modules/email/index.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { SendClaim } from '../../src/modules/email/send-claim.model.js';
import { Suppression, emailHash } from '../../src/modules/suppression/index.js';
import { signToken } from '../../src/modules/email/tokens.js';
import { enqueue } from '../../src/queues/index.js';
import { Enrollment } from '../../src/modules/sequences/index.js';
import { startEmailWorker } from '../../workers/email.js';
import { startLeadSuppressedWorker } from '../../workers/lead-suppressed.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { startSmtpSink, type SinkMessage } from '../helpers/smtp.js';
import { makeLead as makeLeadWith, uid } from '../helpers/factories.js';
import { waitFor } from '../helpers/wait.js';

// recipients starting "bounce" are refused for good; "flaky" ones are refused once with a 451
const flakySeen = new Set<string>();
const sink = await startSmtpSink({
  reject: (rcpt) => {
    if (rcpt.startsWith('bounce')) return 550;
    if (rcpt.startsWith('flaky') && !flakySeen.has(rcpt)) {
      flakySeen.add(rcpt);
      return 451;
    }
    return undefined;
  },
});
// registered first so it runs last (hooks unwind like a stack): after the mailer pool has closed
afterAll(() => sink.close());
const env = useTestEnv({ SMTP_URL: sink.url, MAIL_FROM: 'Acme <news@acme.test>' });
beforeAll(() => {
  startEmailWorker(env.rt);
  startLeadSuppressedWorker(env.rt);
});

// every lead here is Ada of Acme unless a test says otherwise
const makeLead = (fields: Record<string, unknown> = {}) =>
  makeLeadWith({ firstName: 'Ada', company: 'Acme', ...fields });

async function makeSend(
  leadId: Types.ObjectId,
  content: Record<string, unknown> = {
    subject: 'Hello {{lead.firstName}}',
    html: '<p>Hi {{lead.firstName}}, see <a href="https://example.com/pricing?a=1&b=2">pricing</a> and <a href="http://docs.example.org/start">docs</a>.</p>',
  },
  enqueued = true,
) {
  const send = await EmailSend.create({
    sendKey: `${uid()}:hello`,
    leadId,
    enrollmentId: new Types.ObjectId(),
    sequenceKey: 'welcome',
    stepId: 'hello',
    variant: 'a',
    content,
    marketing: true,
  });
  const sendId = String(send._id);
  if (enqueued) await enqueue('email', { sendId }, { jobId: sendId });
  return sendId;
}

const mailTo = (address: string) => (m: SinkMessage) => m.envelopeTo.includes(address);
const sendOf = (id: string) => EmailSend.findById(id).lean();
const eventsOf = (leadId: Types.ObjectId, type: string) => LeadEvent.find({ leadId, type }).lean();
const pathOf = (url: string) => new URL(url).pathname;

/** A header as sent (unfolded), from the raw header lines. */
function header(mail: SinkMessage, name: string): string | undefined {
  const line = mail.parsed.headerLines.find((h) => h.key === name.toLowerCase())?.line;
  return line
    ?.replace(/\r?\n[ \t]+/g, ' ')
    .slice(name.length + 1)
    .trim();
}

function trackedLinks(html: string): string[] {
  return [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
}

describe('email delivery and tracking', () => {
  it('when a send is enqueued, then one email arrives with both parts, unsubscribe headers, a Message-ID and every link tracked', async () => {
    const lead = await makeLead();
    const sendId = await makeSend(lead._id);
    const [mail] = await sink.waitForCount(1, mailTo(lead.email));
    const p = mail!.parsed;
    expect(p.subject).toBe('Hello Ada');
    expect(p.messageId).toBe(`<${sendId}@acme.test>`);
    expect(header(mail!, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    const lu = /^<(http:\/\/leadflow\.test\/u\/[^>]+)>$/.exec(header(mail!, 'List-Unsubscribe') ?? '');
    expect(lu).not.toBeNull();
    expect(p.html).toBeTruthy();
    expect(p.text).toContain('Hi Ada');
    const links = trackedLinks(String(p.html));
    expect(links.filter((l) => l.includes('example.com') || l.includes('example.org'))).toEqual([]);
    expect(links.filter((l) => l.startsWith('http://leadflow.test/t/c/'))).toHaveLength(2);
    expect(links).toContain(lu![1]);
    expect(p.text).not.toContain('https://example.com/pricing');
    const sent = await waitFor(async () => {
      const s = await sendOf(sendId);
      return s?.status === 'sent' ? s : undefined;
    });
    expect(sent.sentAt).toBeInstanceOf(Date);
    expect(await eventsOf(lead._id, 'email_sent')).toHaveLength(1);
    // the delivery counter is counted when the job returns, just after the status is stored
    const sentCounter = /leadflow_email_deliveries_total\{status="sent"\} [1-9]/;
    const metrics = await waitFor(
      async () => {
        const m = await env.http().get('/metrics').set('Authorization', `Bearer ${ADMIN_KEY}`);
        return sentCounter.test(m.text) ? m : undefined;
      },
      { what: 'the sent counter' },
    );
    expect(metrics.text).toMatch(sentCounter);
  });

  it('when a tracked link is followed, then it redirects to the original URL and records the click', async () => {
    const lead = await makeLead();
    const sendId = await makeSend(lead._id);
    const [mail] = await sink.waitForCount(1, mailTo(lead.email));
    const clicks = trackedLinks(String(mail!.parsed.html)).filter((l) => l.includes('/t/c/'));
    const res = await env.http().get(pathOf(clicks[0]!));
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('https://example.com/pricing?a=1&b=2');
    const res2 = await env.http().get(pathOf(clicks[1]!));
    expect(res2.headers.location).toBe('http://docs.example.org/start');
    const events = await eventsOf(lead._id, 'email_click');
    expect(events.map((e) => e.properties.url).sort()).toEqual([
      'http://docs.example.org/start',
      'https://example.com/pricing?a=1&b=2',
    ]);
    expect(events[0]!.properties).toMatchObject({
      sendId,
      sequenceKey: 'welcome',
      stepId: 'hello',
      variant: 'a',
    });
    const send = await sendOf(sendId);
    expect(send?.clickedAt).toBeInstanceOf(Date);
    // a click proves an open even when images were blocked
    expect(send?.openedAt).toBeInstanceOf(Date);
  });

  it('when the open pixel loads twice, then it is a GIF, openedAt is set once and both opens are recorded', async () => {
    const lead = await makeLead();
    const sendId = await makeSend(lead._id);
    const [mail] = await sink.waitForCount(1, mailTo(lead.email));
    const src = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(String(mail!.parsed.html))![1]!;
    const res = await env.http().get(pathOf(src));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/gif');
    const first = (await sendOf(sendId))!.openedAt;
    expect(first).toBeInstanceOf(Date);
    await env.http().get(pathOf(src)).expect(200);
    expect((await sendOf(sendId))!.openedAt).toEqual(first);
    expect(await eventsOf(lead._id, 'email_open')).toHaveLength(2);
  });

  it('when a lead unsubscribes through the page, then the lead is suppressed and later sends are not mailed', async () => {
    const lead = await makeLead();
    await makeSend(lead._id);
    const [mail] = await sink.waitForCount(1, mailTo(lead.email));
    const unsub = trackedLinks(String(mail!.parsed.html)).find((l) => l.includes('/u/'))!;
    const page = await env.http().get(pathOf(unsub));
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('<form method="post"');
    expect(page.text).not.toContain('<script');
    expect(page.headers['content-security-policy']).toBeTruthy();
    // nothing happens on GET (link scanners fetch links)
    expect((await Lead.findById(lead._id).lean())!.unsubscribed).toBe(false);
    const done = await env.http().post(pathOf(unsub)).type('form').send({ confirm: '1' });
    expect(done.status).toBe(200);
    expect(done.text).toContain('unsubscribed');
    expect((await Lead.findById(lead._id).lean())!.unsubscribed).toBe(true);
    expect(await isSuppressed(lead.email.toUpperCase())).toBe(true);
    expect(await eventsOf(lead._id, 'unsubscribe')).toHaveLength(1);

    const later = await makeSend(lead._id, undefined, false);
    expect(await deliverSend(env.rt, later, env.rt.logger)).toEqual({ status: 'suppressed' });
    expect((await sendOf(later))!.status).toBe('suppressed');
    expect(sink.messages.filter(mailTo(lead.email))).toHaveLength(1);
  });

  it('when a mail client posts the RFC 8058 one-click body, then the lead is unsubscribed', async () => {
    const lead = await makeLead();
    await makeSend(lead._id);
    const [mail] = await sink.waitForCount(1, mailTo(lead.email));
    const url = /^<([^>]+)>$/.exec(header(mail!, 'List-Unsubscribe')!)![1]!;
    const res = await env
      .http()
      .post(pathOf(url))
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send('List-Unsubscribe=One-Click');
    expect(res.status).toBe(200);
    expect((await Lead.findById(lead._id).lean())!.unsubscribed).toBe(true);
    expect(await isSuppressed(lead.email)).toBe(true);
  });

  it('when a token is forged or altered, then it is 404 and nothing is recorded', async () => {
    const lead = await makeLead();
    const sendId = await makeSend(lead._id);
    const [mail] = await sink.waitForCount(1, mailTo(lead.email));
    const links = trackedLinks(String(mail!.parsed.html));
    const click = pathOf(links.find((l) => l.includes('/t/c/'))!);
    const unsub = pathOf(links.find((l) => l.includes('/u/'))!);
    const open = pathOf(/<img src="([^"]+)"/.exec(String(mail!.parsed.html))![1]!);
    const alter = (p: string) => p.slice(0, -3) + (p.endsWith('AAA') ? 'BBB' : 'AAA');
    const otherSecret = signToken('not-the-secret-0123456789', { kind: 'open', sendId });
    // a valid open token used as a click or unsubscribe token is refused too
    const openToken = open.split('/').pop()!;
    for (const p of [alter(click), alter(open), `/t/o/${otherSecret}`, `/t/c/${openToken}`, '/t/c/x.y']) {
      expect((await env.http().get(p)).status).toBe(404);
    }
    expect((await env.http().get(alter(unsub))).status).toBe(404);
    expect((await env.http().post(alter(unsub)).type('form').send('List-Unsubscribe=One-Click')).status).toBe(
      404,
    );
    expect(
      (await env.http().post(`/u/${openToken}`).type('form').send('List-Unsubscribe=One-Click')).status,
    ).toBe(404);
    expect((await env.http().get('/u/preview')).status).toBe(404);
    const recorded = await LeadEvent.find({ leadId: lead._id, type: { $ne: 'email_sent' } }).lean();
    expect(recorded).toEqual([]);
    const send = await sendOf(sendId);
    expect(send?.openedAt).toBeNull();
    expect(send?.clickedAt).toBeNull();
    expect((await Lead.findById(lead._id).lean())!.unsubscribed).toBe(false);
  });

  it('when a click token body is swapped for another host, then it is 404 and no redirect happens', async () => {
    const lead = await makeLead();
    const sendId = await makeSend(lead._id);
    const [mail] = await sink.waitForCount(1, mailTo(lead.email));
    const click = trackedLinks(String(mail!.parsed.html)).find((l) => l.includes('/t/c/'))!;
    const mac = click.split('.').pop()!;
    for (const evil of [
      'https://evil.example/',
      'https://example.com.evil.example/pricing?a=1&b=2',
      '//evil.example',
    ]) {
      const body = Buffer.from(`c:${sendId}:${evil}`).toString('base64url');
      const res = await env.http().get(`/t/c/${body}.${mac}`);
      expect(res.status).toBe(404);
      expect(res.headers.location).toBeUndefined();
    }
    expect(await eventsOf(lead._id, 'email_click')).toEqual([]);
  });

  it('when a lead name carries HTML and CR/LF, then the email escapes the HTML and no header is injected', async () => {
    const lead = await makeLead({
      firstName: '<img src=x onerror=alert(1)>\r\nBcc: victim@evil.example',
      lastName: 'Doe\r\nX-Injected: yes',
    });
    await makeSend(lead._id, {
      subject: 'Hi {{lead.firstName}}',
      html: '<p>Hi {{lead.firstName}} {{lead.lastName}}</p>',
    });
    const [mail] = await sink.waitForCount(1, mailTo(lead.email));
    expect(mail!.envelopeTo).toEqual([lead.email]);
    expect(mail!.parsed.headers.has('x-injected')).toBe(false);
    expect(mail!.parsed.bcc).toBeUndefined();
    expect(mail!.parsed.subject).not.toMatch(/[\r\n]/);
    expect(String(mail!.parsed.html)).not.toContain('<img src=x');
    expect(String(mail!.parsed.html)).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(sink.messages.filter((m) => m.envelopeTo.includes('victim@evil.example'))).toEqual([]);
  });

  it('when the recipient is refused with 550, then the send is bounced and the address suppressed', async () => {
    const lead = await makeLead({ email: `bounce-${uid()}@example.test` });
    const queued = await makeSend(lead._id, undefined, false);
    const sendId = await makeSend(lead._id);
    const send = await waitFor(async () => {
      const s = await sendOf(sendId);
      return s?.status === 'bounced' ? s : undefined;
    });
    // the outcome is written last: once the send reads bounced, every consequence is already there
    expect(send.error).toMatch(/550/);
    expect(await isSuppressed(lead.email)).toBe(true);
    expect((await sendOf(queued))!.status).toBe('suppressed');
    expect((await Suppression.findOne({ emailHash: emailHash(lead.email) }).lean())!.reason).toBe('bounce');
    expect(await eventsOf(lead._id, 'email_bounce')).toHaveLength(1);
    expect(sink.messages.filter(mailTo(lead.email))).toEqual([]);
  });

  it('when the server answers 451 once, then the send is retried and delivered exactly once', async () => {
    const lead = await makeLead({ email: `flaky-${uid()}@example.test` });
    const sendId = await makeSend(lead._id);
    await waitFor(async () => (await sendOf(sendId))?.status === 'sent');
    const send = await sendOf(sendId);
    expect(send!.attempts).toBe(2);
    expect(sink.messages.filter(mailTo(lead.email))).toHaveLength(1);
  });

  it('when a send is found in sending, or already claimed, then it becomes unknown and is not sent', async () => {
    const lead = await makeLead();
    const inSending = await makeSend(lead._id, undefined, false);
    await EmailSend.updateOne({ _id: inSending }, { $set: { status: 'sending' } });
    expect(await deliverSend(env.rt, inSending, env.rt.logger)).toEqual({ status: 'unknown' });
    const claimed = await makeSend(lead._id, undefined, false);
    await SendClaim.create({ _id: claimed, owner: 'crashed-attempt', claimedAt: new Date() });
    expect(await deliverSend(env.rt, claimed, env.rt.logger)).toEqual({ status: 'unknown' });
    expect((await sendOf(inSending))!.status).toBe('unknown');
    expect((await sendOf(claimed))!.status).toBe('unknown');
    expect(sink.messages.filter(mailTo(lead.email))).toEqual([]);
  });

  it('when the same send is delivered by several workers at once, then exactly one email goes out', async () => {
    const lead = await makeLead();
    const sendId = await makeSend(lead._id, undefined, false);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => deliverSend(env.rt, sendId, env.rt.logger)),
    );
    expect(results.filter((r) => r.status === 'sent')).toHaveLength(1);
    await sink.waitForCount(1, mailTo(lead.email));
    expect(sink.messages.filter(mailTo(lead.email))).toHaveLength(1);
  });

  it('when a pending send has lost its job, then the reconciler enqueues it again and it is delivered', async () => {
    const lead = await makeLead();
    const sendId = await makeSend(lead._id, undefined, false);
    const left = await makeSend(lead._id, undefined, false);
    await EmailSend.updateOne({ _id: left }, { $set: { status: 'sending' } });
    const r = await reconcileSends(env.rt, { olderThanMs: 0 });
    expect(r.requeued).toBeGreaterThanOrEqual(1);
    await waitFor(async () => (await sendOf(sendId))?.status === 'sent');
    expect((await sendOf(left))!.status).toBe('unknown');
    expect(sink.messages.filter(mailTo(lead.email))).toHaveLength(1);
  });

  it('when marketing posts a suppression, then enrollments end and the address gets no more mail; bad input is a 400 and sales a 403', async () => {
    const lead = await makeLead();
    const now = new Date();
    const enrollment = await Enrollment.create({
      leadId: lead._id,
      sequenceKey: 'welcome',
      version: 1,
      slot: `${String(lead._id)}:welcome`,
      anchorAt: now,
      enrolledAt: now,
      nextRunAt: now,
    });
    const pending = await makeSend(lead._id, undefined, false);
    const key = await env.keyFor('marketing');
    const res = await env
      .http()
      .post('/api/suppressions')
      .set('Authorization', `Bearer ${key}`)
      .send({ email: `  ${lead.email.toUpperCase()} `, reason: 'complaint' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ reason: 'complaint', created: true, leadIds: [String(lead._id)] });
    // the sequence engine reacts to the lead-suppressed job email enqueued
    const ended = await waitFor(async () => {
      const e = await Enrollment.findById(enrollment._id).lean();
      return e?.state === 'exited' ? e : undefined;
    });
    expect(ended).toMatchObject({ state: 'exited', exitReason: 'complaint' });
    expect((await sendOf(pending))!.status).toBe('suppressed');
    const sendId = await makeSend(lead._id, undefined, false);
    expect(await deliverSend(env.rt, sendId, env.rt.logger)).toEqual({ status: 'suppressed' });

    const bad = await env
      .http()
      .post('/api/suppressions')
      .set('Authorization', `Bearer ${key}`)
      .send({ email: { $gt: '' }, reason: 'spam' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['email', 'reason']);
    const sales = await env.keyFor('sales');
    const denied = await env
      .http()
      .post('/api/suppressions')
      .set('Authorization', `Bearer ${sales}`)
      .send({ email: 'x@example.test', reason: 'manual' });
    expect(denied.status).toBe(403);
  });
});
