import { beforeAll, describe, expect, it } from 'vitest';
import { advanceClock } from '../../src/lib/clock.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { emailKey } from '../../src/modules/leads/normalize.js';
import { Enrollment, reconcileSequences } from '../../src/modules/sequences/index.js';
import { startEmailWorker } from '../../workers/email.js';
import { startLeadCapturedWorker } from '../../workers/lead-captured.js';
import { startNurtureWorker } from '../../workers/nurture.js';
import { startLeadSuppressedWorker } from '../../workers/lead-suppressed.js';
import { deleteQueueKeys, useTestEnv } from '../helpers/env.js';
import { startSmtpSink, type SinkMessage } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const sink = await startSmtpSink();

describe('sequences delivered through real SMTP', () => {
  const env = useTestEnv({ SMTP_URL: sink.url });
  let key: string;
  beforeAll(async () => {
    key = await env.keyFor('marketing');
    startNurtureWorker(env.rt);
    startEmailWorker(env.rt);
    startLeadCapturedWorker(env.rt);
    startLeadSuppressedWorker(env.rt);
    return () => sink.close();
  });
  const auth = () => ({ Authorization: `Bearer ${key}` });
  let n = 0;
  async function newLead(firstName: string) {
    const email = `${firstName.toLowerCase()}${++n}-${Date.now()}@example.com`;
    const lead = await Lead.create({ email, emailKey: emailKey(email), firstName, company: 'Acme' });
    return { id: String(lead._id), email };
  }
  async function put(seqKey: string, def: object) {
    const res = await env.http().put(`/api/sequences/${seqKey}`).set(auth()).send(def);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  }
  async function enroll(seqKey: string, leadId: string) {
    const res = await env.http().post(`/api/sequences/${seqKey}/enroll`).set(auth()).send({ leadId });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  }
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
    await enroll('welcome', ann.id);
    await enroll('welcome', bob.id);
    const [annHello] = await waitForMail(ann.email, 1);
    await waitForMail(bob.email, 1);
    expect(annHello!.parsed.subject).toBe('Hi Ann');

    const click = await env.http().get(clickLink(annHello!));
    expect(click.status).toBe(302);
    expect(click.headers.location).toBe('https://example.com/pricing');
    await waitFor(
      async () => (await EmailSend.findOne({ leadId: ann.id, stepId: 'hello' }).lean())?.clickedAt,
    );

    await passTime(2 * DAY + 60_000);
    const bobMail = await waitForMail(bob.email, 2);
    expect(bobMail.map((m) => m.parsed.subject)).toEqual(['Hi Bob', 'How Acme could grow']);
    await waitFor(
      async () => (await Enrollment.find({ sequenceKey: 'welcome', state: 'completed' })).length === 2,
    );
    expect(mailTo(ann.email).map((m) => m.parsed.subject)).toEqual(['Hi Ann']);

    const stats = await env.http().get('/api/sequences/welcome/stats').set(auth());
    expect(stats.body).toMatchObject({ enrolled: 2, active: 0, completed: 2, exited: 0 });
    expect(stats.body.steps).toEqual([
      // a click proves the email was opened (tracking records both)
      { id: 'hello', sent: 2, opened: 1, clicked: 1, unsubscribed: 0, bounced: 0 },
      { id: 'case-study', sent: 1, opened: 0, clicked: 0, unsubscribed: 0, bounced: 0 },
    ]);
  });

  it('when a lead unsubscribes with one click between steps, then no further email arrives', async () => {
    await put('drip', {
      name: 'Drip',
      steps: [
        { id: 'one', subject: 'One', text: 'first' },
        { id: 'two', wait: '1d', subject: 'Two', text: 'second' },
      ],
    });
    const cat = await newLead('Cat');
    const dan = await newLead('Dan');
    const catEnrollment = await enroll('drip', cat.id);
    await enroll('drip', dan.id);
    const [catOne] = await waitForMail(cat.email, 1);
    await waitForMail(dan.email, 1);
    const unsub = await env
      .http()
      .post(unsubscribeLink(catOne!))
      .type('form')
      .send('List-Unsubscribe=One-Click');
    expect(unsub.status).toBe(200);

    await passTime(DAY + 60_000);
    await waitForMail(dan.email, 2);
    const e = await waitFor(async () => {
      const doc = await Enrollment.findById(catEnrollment).lean();
      return doc?.state === 'exited' ? doc : undefined;
    });
    expect(e.exitReason).toBe('unsubscribed');
    expect(mailTo(cat.email).map((m) => m.parsed.subject)).toEqual(['One']);
    const stats = await env.http().get('/api/sequences/drip/stats').set(auth());
    expect(stats.body.steps[0]).toMatchObject({ id: 'one', sent: 2, unsubscribed: 1 });
    expect(stats.body).toMatchObject({ enrolled: 2, completed: 1, exited: 1 });
  });

  it('when Redis is flushed mid-sequence, then after the reconciler each step is delivered exactly once', async () => {
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
    await deleteQueueKeys(env.config.redisUrl, env.config.queuePrefix);

    await passTime(HOUR + 60_000);
    await reconcileSequences(env.rt);
    await waitForMail(eve.email, 2);
    await deleteQueueKeys(env.config.redisUrl, env.config.queuePrefix);
    await passTime(HOUR + 60_000);
    await Promise.all([reconcileSequences(env.rt), reconcileSequences(env.rt)]);
    await waitFor(async () => (await Enrollment.findById(id).lean())?.state === 'completed');
    await waitFor(async () => (await EmailSend.countDocuments({ enrollmentId: id, status: 'sent' })) === 3);
    await reconcileSequences(env.rt);
    expect(mailTo(eve.email).map((m) => m.parsed.subject)).toEqual(['Step A', 'Step B', 'Step C']);
  });

  it('when a step has A/B variants, then both are delivered and counted per variant', async () => {
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
    const email = `form-${Date.now()}@example.com`;
    const res = await env.http().post('/f/demo-request').send({ email, firstName: 'Hal' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [mail] = await waitForMail(email, 1);
    expect(mail!.parsed.subject).toBe('Thanks Hal');
    const lead = await Lead.findById(res.body.leadId).lean();
    expect(lead!.status).toBe('nurturing');
    expect(await Enrollment.countDocuments({ leadId: res.body.leadId, sequenceKey: 'form-welcome' })).toBe(1);
  });
});
