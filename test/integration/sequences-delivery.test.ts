import type { Worker } from 'bullmq';
import { beforeAll, describe, expect, it } from 'vitest';
import { advanceClock } from '../../src/lib/clock.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { Enrollment, reconcileSequences } from '../../src/modules/sequences/index.js';
import { emailHash, Suppression } from '../../src/modules/suppression/index.js';
import { getQueue } from '../../src/queues/index.js';
import { startEmailWorker } from '../../workers/email.js';
import { startLeadCapturedWorker } from '../../workers/lead-captured.js';
import { startNurtureWorker } from '../../workers/nurture.js';
import { startLeadSuppressedWorker } from '../../workers/lead-suppressed.js';
import { deleteQueueKeys, useTestEnv } from '../helpers/env.js';
import {
  enroll as enrollVia,
  enrolled as enrolledVia,
  makeLead,
  putSequence,
  uniqueEmail,
} from '../helpers/factories.js';
import { startSmtpSink, type SinkMessage } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const sink = await startSmtpSink();

/**
 * The sequence engine end to end: nurture and email workers, real SMTP, tracking and unsubscribe
 * links followed as a mail client would. (Engine rules that need no mail — send windows, versions,
 * re-enrollment, goals, merges — are in sequences.test.ts.)
 */
describe('sequences delivered through real SMTP', () => {
  const env = useTestEnv({ SMTP_URL: sink.url });
  let key: string;
  let emailWorker: Worker;
  beforeAll(async () => {
    key = await env.keyFor('marketing');
    startNurtureWorker(env.rt);
    emailWorker = startEmailWorker(env.rt);
    startLeadCapturedWorker(env.rt);
    startLeadSuppressedWorker(env.rt);
    return () => sink.close();
  });
  const auth = () => ({ Authorization: `Bearer ${key}` });
  async function newLead(firstName: string) {
    const lead = await makeLead({ firstName, company: 'Acme' });
    return { id: String(lead._id), email: lead.email };
  }
  const put = (seqKey: string, def: object) => putSequence(env, auth(), seqKey, def);
  const enroll = (seqKey: string, leadId: string) => enrolledVia(env, auth(), seqKey, leadId);
  const sendsOf = (enrollmentId: string) =>
    EmailSend.find({ enrollmentId }).sort({ createdAt: 1, _id: 1 }).lean();
  const historyOf = async (enrollmentId: string) =>
    (await Enrollment.findById(enrollmentId).lean())!.history.map((h) => h.action);
  const waitForState = (enrollmentId: string, state: string) =>
    waitFor(
      async () => {
        const e = await Enrollment.findById(enrollmentId).lean();
        return e?.state === state ? e : undefined;
      },
      { what: `enrollment ${enrollmentId} ${state}` },
    );
  const mailTo = (email: string) => sink.messages.filter((m) => m.envelopeTo.includes(email));
  const waitForMail = (email: string, count: number) =>
    waitFor(() => (mailTo(email).length >= count ? mailTo(email) : undefined), {
      what: `${count} email(s) to ${email}`,
    });
  const pathOf = (url: string) => new URL(url).pathname;
  const clickLink = (m: SinkMessage) => {
    const found = /href="(http:\/\/leadflow\.test\/t\/c\/[^"]+)"/.exec(String(m.parsed.html));
    if (!found) throw new Error('no tracked link in the email');
    return pathOf(found[1]!.replace(/&amp;/g, '&'));
  };
  const unsubscribeLink = (m: SinkMessage) => {
    // the raw header: mailparser turns List-Unsubscribe into an object
    const found = /^List-Unsubscribe:\s*<(http[^>]+)>/im.exec(m.raw.toString('utf8'));
    if (!found) throw new Error('no List-Unsubscribe header');
    return pathOf(found[1]!);
  };
  /** moves the clock and runs the reconciler, as the scheduler would every minute */
  async function passTime(ms: number) {
    advanceClock(ms);
    await reconcileSequences(env.rt);
  }

  it('when a two-step sequence branches on a click, then the right emails arrive in the right order', async () => {
    await put('welcome', {
      name: 'Welcome',
      steps: [
        {
          id: 'hello',
          wait: '0s',
          subject: 'Hi {{lead.firstName}}',
          html: '<p>See our <a href="https://example.com/pricing">pricing</a></p>',
        },
        {
          id: 'case-study',
          wait: '2d',
          subject: 'How {{lead.company}} could grow',
          text: 'A case study',
          if: { notClicked: 'hello' },
        },
      ],
    });
    const ann = await newLead('Ann');
    const bob = await newLead('Bob');
    const annEnrollment = await enroll('welcome', ann.id);
    const bobEnrollment = await enroll('welcome', bob.id);
    const [annHello] = await waitForMail(ann.email, 1);
    await waitForMail(bob.email, 1);
    expect(annHello!.parsed.subject).toBe('Hi Ann');
    // the send snapshots the step's content (the template, rendered only when mailed) ...
    const [annSend] = await sendsOf(annEnrollment);
    expect(annSend).toMatchObject({ stepId: 'hello', content: { subject: 'Hi {{lead.firstName}}' } });
    // ... and was handed to the email queue under its own id
    expect(await getQueue('email').getJob(String(annSend!._id))).toBeTruthy();
    const [bobHello] = await sendsOf(bobEnrollment);

    const click = await env.http().get(clickLink(annHello!));
    expect(click.status).toBe(302);
    expect(click.headers.location).toBe('https://example.com/pricing');
    await waitFor(
      async () => (await EmailSend.findOne({ leadId: ann.id, stepId: 'hello' }).lean())?.clickedAt,
    );

    await passTime(2 * DAY + 60_000);
    const bobMail = await waitForMail(bob.email, 2);
    expect(bobMail.map((m) => m.parsed.subject)).toEqual(['Hi Bob', 'How Acme could grow']);
    await waitForState(annEnrollment, 'completed');
    await waitForState(bobEnrollment, 'completed');
    // a send reads `sent` once the mail server has answered, just after the mail arrives here
    await waitFor(async () => (await sendsOf(bobEnrollment)).every((s) => s.status === 'sent'), {
      what: "Bob's sends marked sent",
    });
    expect(mailTo(ann.email).map((m) => m.parsed.subject)).toEqual(['Hi Ann']);
    expect(await historyOf(annEnrollment)).toEqual(['enrolled', 'sent', 'skipped', 'completed']);
    const bobSends = await sendsOf(bobEnrollment);
    expect(bobSends.map((s) => s.stepId)).toEqual(['hello', 'case-study']);
    // a step already recorded is not recorded again; the second one snapshots its own content
    expect(String(bobSends[0]!._id)).toBe(String(bobHello!._id));
    expect(bobSends[1]!.content).toMatchObject({
      subject: 'How {{lead.company}} could grow',
      text: 'A case study',
    });

    const stats = await env.http().get('/api/sequences/welcome/stats').set(auth());
    expect(stats.body).toMatchObject({ enrolled: 2, active: 0, completed: 2, exited: 0 });
    expect(stats.body.steps).toEqual([
      // a click proves the email was opened (tracking records both)
      { id: 'hello', sent: 2, opened: 1, clicked: 1, unsubscribed: 0, bounced: 0 },
      { id: 'case-study', sent: 1, opened: 0, clicked: 0, unsubscribed: 0, bounced: 0 },
    ]);
  });

  it('when a lead unsubscribes with one click, is flagged unsubscribed or is suppressed between steps, then no further email arrives and the enrollment exits', async () => {
    await put('drip', {
      name: 'Drip',
      steps: [
        { id: 'one', subject: 'One', text: 'first' },
        { id: 'two', wait: '1d', subject: 'Two', text: 'second' },
      ],
    });
    const cat = await newLead('Cat');
    const flagged = await newLead('Flo');
    const bounced = await newLead('Bea');
    const dan = await newLead('Dan');
    const ids = await Promise.all([cat, flagged, bounced, dan].map((l) => enroll('drip', l.id)));
    const [catEnrollment, flaggedEnrollment, bouncedEnrollment] = ids as [string, string, string, string];
    const [catOne] = await waitForMail(cat.email, 1);
    await Promise.all([flagged, bounced, dan].map((l) => waitForMail(l.email, 1)));
    // one-click unsubscribe (RFC 8058) from the email itself
    const unsub = await env
      .http()
      .post(unsubscribeLink(catOne!))
      .type('form')
      .send('List-Unsubscribe=One-Click');
    expect(unsub.status).toBe(200);
    // the flag alone, and the suppression list alone, each stop the engine before the next step
    await Lead.updateOne({ _id: flagged.id }, { $set: { unsubscribed: true } });
    await Suppression.create({ emailHash: emailHash(bounced.email), reason: 'bounce' });

    await passTime(DAY + 60_000);
    await waitForMail(dan.email, 2);
    expect((await waitForState(catEnrollment, 'exited')).exitReason).toBe('unsubscribed');
    expect((await waitForState(flaggedEnrollment, 'exited')).exitReason).toBe('unsubscribed');
    expect((await waitForState(bouncedEnrollment, 'exited')).exitReason).toBe('suppressed');
    await waitForState(ids[3]!, 'completed');
    for (const l of [cat, flagged, bounced]) {
      expect(mailTo(l.email).map((m) => m.parsed.subject)).toEqual(['One']);
    }
    expect(
      await EmailSend.countDocuments({
        enrollmentId: { $in: [catEnrollment, flaggedEnrollment, bouncedEnrollment] },
      }),
    ).toBe(3);
    // and a suppressed lead cannot be enrolled again
    expect((await enrollVia(env, auth(), 'drip', bounced.id)).status).toBe(409);
    const stats = await env.http().get('/api/sequences/drip/stats').set(auth());
    expect(stats.body.steps[0]).toMatchObject({ id: 'one', sent: 4, unsubscribed: 1 });
    expect(stats.body).toMatchObject({ enrolled: 4, completed: 1, exited: 3 });
  });

  it('when Redis is flushed mid-sequence, then the reconciler rebuilds due steps and pending sends and each step is delivered exactly once', async () => {
    await put('flush', {
      name: 'Flush',
      steps: [
        { id: 'a', subject: 'Step A', text: 'a' },
        { id: 'b', wait: '1h', subject: 'Step B', text: 'b' },
        { id: 'c', wait: '1h', subject: 'Step C', text: 'c' },
      ],
    });
    const eve = await newLead('Eve');
    const id = await enroll('flush', eve.id);
    await waitForMail(eve.email, 1);
    await waitFor(async () => (await Enrollment.findById(id).lean())?.currentStep === 1);
    // the nurture job of step b is lost
    await deleteQueueKeys(env.config.redisUrl, env.config.queuePrefix);

    // with delivery paused, step b's send is recorded and waits in the email queue; that job is lost too
    await emailWorker.pause();
    try {
      await passTime(HOUR + 60_000);
      const sendB = await waitFor(async () => (await sendsOf(id)).find((s) => s.stepId === 'b'));
      expect(sendB.status).toBe('pending');
      // the step is done (send recorded, its email job enqueued, the enrollment moved on) before
      // its jobs are lost: otherwise the enqueue could land after the flush
      await waitFor(async () => (await Enrollment.findById(id).lean())?.currentStep === 2);
      await deleteQueueKeys(env.config.redisUrl, env.config.queuePrefix);
      expect(await getQueue('email').getJob(String(sendB._id))).toBeUndefined();
      // the reconciler may run several times, and concurrently; the pending send gets its job back once
      await Promise.all([reconcileSequences(env.rt), reconcileSequences(env.rt)]);
      expect(await getQueue('email').getJob(String(sendB._id))).toBeTruthy();
    } finally {
      emailWorker.resume();
    }
    await waitForMail(eve.email, 2);
    await passTime(HOUR + 60_000);
    await Promise.all([reconcileSequences(env.rt), reconcileSequences(env.rt)]);
    await waitForState(id, 'completed');
    await waitFor(async () => (await EmailSend.countDocuments({ enrollmentId: id, status: 'sent' })) === 3);
    await reconcileSequences(env.rt);
    expect((await sendsOf(id)).map((s) => s.stepId)).toEqual(['a', 'b', 'c']);
    expect(mailTo(eve.email).map((m) => m.parsed.subject)).toEqual(['Step A', 'Step B', 'Step C']);
  });

  it('when a step has A/B variants, then both are delivered, each send records its variant and stats count per variant', async () => {
    await put('ab', {
      name: 'AB',
      steps: [
        {
          id: 'pitch',
          text: 'Hello {{lead.firstName}}',
          variants: [
            { id: 'plain', subject: 'Plain subject' },
            { id: 'bold', subject: 'Bold subject' },
          ],
        },
      ],
    });
    const leads = await Promise.all(Array.from({ length: 16 }, () => newLead('Ab')));
    await Promise.all(leads.map((l) => enroll('ab', l.id)));
    await waitFor(async () => (await EmailSend.countDocuments({ sequenceKey: 'ab', status: 'sent' })) === 16);
    const subjects = leads.map((l) => mailTo(l.email)[0]?.parsed.subject);
    const plain = subjects.filter((s) => s === 'Plain subject').length;
    const bold = subjects.filter((s) => s === 'Bold subject').length;
    // P(all 16 the same) = 2^-15
    expect(plain).toBeGreaterThan(0);
    expect(bold).toBeGreaterThan(0);
    expect(plain + bold).toBe(16);
    // each send records its variant, and the person got that variant's subject
    const sends = await EmailSend.find({ sequenceKey: 'ab' }).lean();
    const wanted: Record<string, string> = { plain: 'Plain subject', bold: 'Bold subject' };
    for (const s of sends) {
      const lead = leads.find((l) => l.id === String(s.leadId))!;
      expect(s.content!.subject).toBe(wanted[s.variant!]);
      expect(mailTo(lead.email)[0]!.parsed.subject).toBe(wanted[s.variant!]);
    }
    const stats = await env.http().get('/api/sequences/ab/stats').set(auth());
    expect(stats.body.steps[0].sent).toBe(16);
    expect(stats.body.steps[0].variants).toEqual([
      { id: 'plain', sent: plain, opened: 0, clicked: 0, unsubscribed: 0, bounced: 0 },
      { id: 'bold', sent: bold, opened: 0, clicked: 0, unsubscribed: 0, bounced: 0 },
    ]);
  });

  it('when a sequence is previewed for a lead, then each step is rendered untracked with the lead’s fields', async () => {
    const fay = await newLead('Fay');
    const res = await env.http().post('/api/sequences/welcome/preview').set(auth()).send({ leadId: fay.id });
    expect(res.status).toBe(200);
    expect(res.body.steps.map((s: { id: string; subject: string }) => [s.id, s.subject])).toEqual([
      ['hello', 'Hi Fay'],
      ['case-study', 'How Acme could grow'],
    ]);
    expect(res.body.steps[0].html).toContain('href="https://example.com/pricing"');
    expect(res.body.steps[0].html).not.toContain('/t/c/');
    const inline = await env
      .http()
      .post('/api/sequences/ab/preview')
      .set(auth())
      .send({ lead: { firstName: '<b>Gus</b>' } });
    expect(inline.status).toBe(200);
    expect(inline.body.steps[0].variants.map((v: { subject: string }) => v.subject)).toEqual([
      'Plain subject',
      'Bold subject',
    ]);
    expect(inline.body.steps[0].text).toContain('Hello <b>Gus</b>');
    expect(inline.body.steps[0].html).not.toContain('<b>Gus</b>');
    const bad = await env
      .http()
      .post('/api/sequences/ab/preview')
      .set(auth())
      .send({ lead: { firstName: { $gt: '' } } });
    expect(bad.status).toBe(400);
    // a preview sends nothing
    expect(mailTo(fay.email)).toHaveLength(0);
  });

  it('when a web form names a sequence, then a submission enrolls the new lead and its first email arrives', async () => {
    await put('form-welcome', {
      name: 'Form welcome',
      steps: [{ id: 'thanks', subject: 'Thanks {{lead.firstName}}', text: 'We will be in touch.' }],
    });
    const form = await env
      .http()
      .put('/api/forms/demo-request')
      .set(auth())
      .send({ name: 'Demo request', sequence: 'form-welcome', minFillSeconds: 0 });
    expect(form.status, JSON.stringify(form.body)).toBe(200);
    const email = uniqueEmail('form');
    const res = await env.http().post('/f/demo-request').send({ email, firstName: 'Hal' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [mail] = await waitForMail(email, 1);
    expect(mail!.parsed.subject).toBe('Thanks Hal');
    const lead = await Lead.findById(res.body.leadId).lean();
    expect(lead!.status).toBe('nurturing');
    expect(await Enrollment.countDocuments({ leadId: res.body.leadId, sequenceKey: 'form-welcome' })).toBe(1);
  });
});
