import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { PendingCapture } from '../../src/modules/leads/pending-capture.model.js';
import { Enrollment } from '../../src/modules/sequences/index.js';
import { Suppression, emailHash } from '../../src/modules/suppression/index.js';
import { startEmailWorker } from '../../workers/email.js';
import { startLeadCapturedWorker } from '../../workers/lead-captured.js';
import { startLeadSuppressedWorker } from '../../workers/lead-suppressed.js';
import { startNurtureWorker } from '../../workers/nurture.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { root } from '../helpers/processes.js';
import { startSmtpSink } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

type Control = {
  tag: string;
  name: string;
  type: string;
  value: string | undefined;
  options: string[];
  multiple: boolean;
};

const attr = (attrs: string, name: string): string | undefined => {
  const m = new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(attrs);
  return m ? (m[1] ?? m[2] ?? m[3]) : undefined;
};

/** The controls of a generated Web-to-Lead form, in order (comments removed, as a browser does). */
function formControls(html: string): Control[] {
  const body = html.replace(/<!--[\s\S]*?-->/g, '');
  const controls: Control[] = [];
  const re = /<select\b([^>]*)>([\s\S]*?)<\/select>|<(input|textarea)\b([^>]*)>/gi;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    const tag = m[3] ? m[3].toLowerCase() : 'select';
    const attrs = m[1] ?? m[4] ?? '';
    const name = attr(attrs, 'name');
    if (!name) continue;
    controls.push({
      tag,
      name,
      type: (attr(attrs, 'type') ?? 'text').toLowerCase(),
      value: attr(attrs, 'value'),
      options: [...(m[2] ?? '').matchAll(/<option value="([^"]*)"/g)].map((o) => o[1]!).filter(Boolean),
      multiple: /\bmultiple\b/i.test(attrs),
    });
  }
  return controls;
}

const fixture = readFileSync(path.join(root, 'test/fixtures/salesforce-web-to-lead.html'), 'utf8');
const controls = formControls(fixture);

/** What a person types into the form's text fields. */
const typed: Record<string, string> = {
  first_name: 'Grace',
  last_name: 'Hopper',
  company: 'US Navy',
  title: 'Rear Admiral',
  URL: 'https://navy.example',
  phone: '+1 (202) 555-0143',
  mobile: '+1 202 555 0199',
  fax: '+1 202 555 0100',
  street: '1 Navy Yard\nBuilding 2',
  city: 'Washington',
  state: 'DC',
  zip: '20374',
  country: 'United States',
  description: 'We want to <b>nurture</b> leads & score them',
  revenue: '1000000',
  employees: '250',
  '00N5g00000TeamSz': '12',
  '00N5g00000CtDate': '2027-01-15',
};

/** The body a browser sends for the fixture: every control, checkboxes checked as asked. */
function browserBody(email: string, checked: Set<string>): URLSearchParams {
  const body = new URLSearchParams();
  for (const c of controls) {
    if (c.type === 'submit') body.append(c.name, c.value ?? 'Submit');
    else if (c.type === 'hidden') body.append(c.name, c.value ?? '');
    else if (c.type === 'checkbox') {
      if (checked.has(c.name)) body.append(c.name, c.value ?? 'on');
    } else if (c.tag === 'select' && c.multiple)
      for (const o of c.options.slice(0, 2)) body.append(c.name, o);
    else if (c.tag === 'select') body.append(c.name, c.options[c.options.length - 1]!);
    else body.append(c.name, c.name === 'email' ? email : (typed[c.name] ?? ''));
  }
  return body;
}

const plumbing = [
  'captcha_settings',
  'oid',
  'retURL',
  'encoding',
  'recordType',
  'debug',
  'debugEmail',
  'submit',
];
const standard: Record<string, string> = {
  first_name: 'firstName',
  last_name: 'lastName',
  email: 'email',
  company: 'company',
  title: 'title',
  phone: 'phone',
  country: 'country',
  lead_source: 'source',
};

const sink = await startSmtpSink();
const auth = { Authorization: `Bearer ${ADMIN_KEY}` };

describe('Web-to-Lead fidelity: every field of a generated Salesforce form reaches the lead', () => {
  const env = useTestEnv({ SMTP_URL: sink.url });
  beforeAll(async () => {
    startLeadCapturedWorker(env.rt);
    startLeadSuppressedWorker(env.rt);
    startNurtureWorker(env.rt);
    startEmailWorker(env.rt);
    const seq = await env
      .http()
      .put('/api/sequences/nurture')
      .set(auth)
      .send({
        name: 'Nurture',
        steps: [
          { id: 'hello', wait: '0s', subject: 'Welcome to leadflow', text: 'Hello!' },
          { id: 'later', wait: '1d', subject: 'A day later', text: 'Still there?' },
        ],
      });
    expect(seq.status, JSON.stringify(seq.body)).toBe(200);
    const form = await env.http().put('/api/forms/w2l').set(auth).send({
      name: 'Salesforce Web-to-Lead',
      redirectUrl: 'https://www.example.com/thanks',
      allowRetUrl: true,
      sequence: 'nurture',
    });
    expect(form.status, JSON.stringify(form.body)).toBe(200);
    return () => sink.close();
  });

  const postForm = (body: URLSearchParams) =>
    env.http().post('/f/w2l').set('Content-Type', 'application/x-www-form-urlencoded').send(body.toString());
  const mailTo = (email: string) => sink.messages.filter((m) => m.envelopeTo.includes(email));
  const processed = (leadId: unknown) =>
    waitFor(async () => (await PendingCapture.countDocuments({ _id: String(leadId) })) === 0, {
      what: 'the lead-captured job processed',
    });

  it('when the full generated form is posted urlencoded, then every field lands on the lead and the plumbing does not', async () => {
    const body = browserBody('grace@navy.example', new Set(['doNotCall', 'faxOptOut', '00N5g00000Trial1']));
    const res = await postForm(body);
    expect(res.status, res.text).toBe(303);
    expect(res.headers.location).toBe('https://www.example.com/thanks');

    const lead = await Lead.findOne({ emailKey: 'grace@navy.example' }).lean();
    expect(lead).toMatchObject({
      firstName: 'Grace',
      lastName: 'Hopper',
      company: 'US Navy',
      title: 'Rear Admiral',
      phone: '+12025550143',
      country: 'US',
      source: 'Web',
      unsubscribed: false,
    });
    // every other submitted field is an attribute, under its own name (URL: website), and nothing else is
    const expected: Record<string, string> = {};
    for (const name of new Set(body.keys())) {
      if (plumbing.includes(name) || standard[name]) continue;
      expected[name === 'URL' ? 'website' : name] = body.getAll(name).join(';');
    }
    expected.street = '1 Navy Yard Building 2';
    expected.description = 'We want to <b>nurture</b> leads & score them';
    expect(lead!.attributes).toEqual(expected);
    expect(lead!.attributes).toMatchObject({
      salutation: 'Prof.',
      website: 'https://navy.example',
      industry: 'Technology',
      '00N5g00000TeamSz': '12',
      '00N5g00000PrdInt': 'Nurture;Scoring',
      '00N5g00000Trial1': '1',
      '00N5g00000CtDate': '2027-01-15',
      Campaign_ID: '7015g000000CmPgN',
      doNotCall: '1',
    });
    for (const p of plumbing) expect(Object.keys(lead!.attributes as object)).not.toContain(p);
    expect(JSON.stringify(lead)).not.toContain('00D5g000008XyZa'); // the org id, from oid and captcha_settings
  });

  it('when Email Opt Out is checked, then the person is suppressed before enrollment and gets no nurture email', async () => {
    const res = await postForm(browserBody('opted-out@navy.example', new Set(['emailOptOut'])));
    expect(res.status, res.text).toBe(303);
    // a second person, same form, no opt-out: proves the nurture email does go out
    expect((await postForm(browserBody('welcome@navy.example', new Set()))).status).toBe(303);

    await waitFor(() => mailTo('welcome@navy.example').length === 1, {
      what: 'the nurture email to the other person',
    });
    expect(mailTo('welcome@navy.example')[0]!.parsed.subject).toBe('Welcome to leadflow');
    const lead = await Lead.findOne({ emailKey: 'opted-out@navy.example' }).lean();
    await processed(lead!._id);
    expect(lead!.unsubscribed).toBe(true);
    expect(
      await Suppression.findOne({ emailHash: emailHash('opted-out@navy.example') }).lean(),
    ).toMatchObject({
      reason: 'unsubscribe',
    });
    expect(await Enrollment.countDocuments({ leadId: lead!._id })).toBe(0);
    expect(mailTo('opted-out@navy.example')).toHaveLength(0);
    const lookup = await env
      .http()
      .get(`/api/leads/${String(lead!._id)}`)
      .set(auth);
    expect(lookup.body.unsubscribed).toBe(true);
  });

  it('when an enrolled person submits again with Email Opt Out (any of its names), then their enrollment ends', async () => {
    for (const name of ['emailOptOut', 'email_opt_out', 'HasOptedOutOfEmail']) {
      const email = `again-${name.toLowerCase()}@navy.example`;
      expect((await env.http().post('/f/w2l').set('Accept', 'application/json').send({ email })).status).toBe(
        201,
      );
      await waitFor(() => mailTo(email).length === 1, { what: `the first email to ${email}` });
      const lead = await Lead.findOne({ emailKey: email }).lean();
      const again = await env
        .http()
        .post('/f/w2l')
        .set('Accept', 'application/json')
        .send({ email, [name]: name === 'emailOptOut' ? 'on' : true });
      expect(again.status, JSON.stringify(again.body)).toBe(200);
      await waitFor(
        async () => (await Enrollment.findOne({ leadId: lead!._id }).lean())?.state === 'exited',
        { what: `${email}'s enrollment exited` },
      );
      expect((await Lead.findById(lead!._id).lean())!.unsubscribed).toBe(true);
    }
  });

  it('when custom fields pass the bounds, then 400 names the field and nothing is written', async () => {
    const tooMany: Record<string, string> = { email: 'bounds@navy.example' };
    for (let i = 0; i < 101; i++) tooMany[`00N5g0000Fld${String(i).padStart(3, '0')}`] = 'x';
    const many = await env.http().post('/f/w2l').set('Accept', 'application/json').send(tooMany);
    expect(many.status).toBe(400);
    expect(many.body.error.details).toEqual([expect.objectContaining({ path: '00N5g0000Fld100' })]);

    const long = await env
      .http()
      .post('/f/w2l')
      .set('Accept', 'application/json')
      .send({ email: 'bounds@navy.example', '00N5g00000Long1': 'y'.repeat(2001) });
    expect(long.status).toBe(400);
    expect(long.body.error.details).toEqual([expect.objectContaining({ path: '00N5g00000Long1' })]);

    for (const body of [
      { email: 'bounds@navy.example', 'a.b': 'dotted' },
      { email: 'bounds@navy.example', $where: 'x' },
      { email: 'bounds@navy.example', '00N5g00000Inj01': { $gt: '' } },
      { email: 'bounds@navy.example', __proto__x: 'ok', constructor: 'no' },
    ]) {
      const res = await env.http().post('/f/w2l').set('Accept', 'application/json').send(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    const page = await postForm(
      new URLSearchParams({ email: 'bounds@navy.example', '00N5g00000Long1': 'y'.repeat(2001) }),
    );
    expect(page.status).toBe(400);
    expect(page.text).toContain('00N5g00000Long1');
    expect(await Lead.countDocuments({ emailKey: 'bounds@navy.example' })).toBe(0);
  });

  it('when a CSV import has an Email Opt Out column, then a "yes" row is suppressed and unsubscribed, a "no" row is not', async () => {
    const csv = [
      'Email,First Name,Email Opt Out,Team Size',
      'csv-out@navy.example,Olga,1,5',
      'csv-in@navy.example,Ivan,0,7',
      'csv-true@navy.example,Tess,true,9',
    ].join('\n');
    const res = await env
      .http()
      .post('/api/imports?source=Fair&sequence=nurture')
      .set(auth)
      .set('Content-Type', 'text/csv')
      .send(csv);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const out = await Lead.findOne({ emailKey: 'csv-out@navy.example' }).lean();
    const inn = await Lead.findOne({ emailKey: 'csv-in@navy.example' }).lean();
    const tru = await Lead.findOne({ emailKey: 'csv-true@navy.example' }).lean();
    expect([out!.unsubscribed, inn!.unsubscribed, tru!.unsubscribed]).toEqual([true, false, true]);
    expect(out!.attributes).toEqual({ teamSize: '5' });
    expect(await Suppression.exists({ emailHash: emailHash('csv-out@navy.example') })).not.toBeNull();
    expect(await Suppression.exists({ emailHash: emailHash('csv-in@navy.example') })).toBeNull();
    await waitFor(() => mailTo('csv-in@navy.example').length === 1, {
      what: 'the nurture email to the imported lead',
    });
    await processed(out!._id);
    expect(mailTo('csv-out@navy.example')).toHaveLength(0);
  });
});
