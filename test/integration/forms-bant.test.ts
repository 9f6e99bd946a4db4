import { beforeAll, describe, expect, it } from 'vitest';
import { Lead } from '../../src/modules/leads/index.js';
import { HandoffRequest } from '../../src/modules/qualification/index.js';
import { startQualificationWorker } from '../../workers/qualification.js';
import { useTestEnv } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';

describe('forms that answer BANT, and newsletter-only (subscriber) forms', () => {
  const env = useTestEnv({ RATE_LIMIT_PUBLIC: '100000' });
  let marketing: string;
  const as = (k: string) => ({ Authorization: `Bearer ${k}` });
  const submit = (formId: string, body: Record<string, unknown>) =>
    env.http().post(`/f/${formId}`).set('Content-Type', 'application/json').send(body);
  const stored = async (email: string) => (await Lead.findOne({ emailKey: email }).lean())!;

  beforeAll(async () => {
    marketing = await env.keyFor('marketing');
    startQualificationWorker(env.rt);
    const form = await env
      .http()
      .put('/api/forms/demo')
      .set(as(marketing))
      .send({
        name: 'Book a demo',
        fields: [
          { name: 'budget_range', bant: 'budget' },
          { name: 'decision_maker', bant: 'authority' },
          { name: 'go_live', label: 'When?', bant: 'timeline' },
        ],
      });
    expect(form.status).toBe(200);
    expect(form.body.fields[0]).toEqual({
      name: 'budget_range',
      label: null,
      required: false,
      bant: 'budget',
    });
    const news = await env
      .http()
      .put('/api/forms/newsletter')
      .set(as(marketing))
      .send({ name: 'Newsletter', stage: 'subscriber' });
    expect(news.status).toBe(200);
    expect(news.body.stage).toBe('subscriber');
    const agreement = await env
      .http()
      .put('/api/qualification')
      .set(as(marketing))
      .send({
        threshold: 0,
        require: { budget: true, authority: true, timeline: true },
        agreedBy: { marketing: 'M', sales: 'S' },
      });
    expect(agreement.status).toBe(200);
  });

  it('when a form maps fields to BANT, then the answers land on the lead and the lead is re-evaluated (and qualifies)', async () => {
    const first = await submit('demo', {
      email: 'bant@example.com',
      budget_range: '10-50k',
      decision_maker: 'yes',
    });
    expect(first.status).toBe(201);
    const lead = await stored('bant@example.com');
    expect(lead.bant).toMatchObject({ budget: '10-50k', authority: true, need: null, timeline: null });
    expect(lead.status).toBe('open');
    // a later answer fills the empty timeline but never overwrites the budget already given
    const second = await submit('demo', { email: 'bant@example.com', budget_range: '1M', go_live: 'Q3' });
    expect(second.status).toBe(200);
    await waitFor(async () => (await stored('bant@example.com')).status === 'qualified', {
      what: 'qualified',
    });
    const after = await stored('bant@example.com');
    expect(after.bant).toMatchObject({ budget: '10-50k', authority: true, timeline: 'Q3' });
    expect(await HandoffRequest.countDocuments({ leadId: after._id })).toBe(1);
  });

  it('when a form definition maps BANT badly, then 400 names the field and nothing changes', async () => {
    for (const [fields, path] of [
      [[{ name: 'a', bant: 'money' }], 'fields.0.bant'],
      [
        [
          { name: 'a', bant: 'budget' },
          { name: 'b', bant: 'budget' },
        ],
        'fields.1.bant',
      ],
      [[{ name: 'a', bant: { $gt: '' } }], 'fields.0.bant'],
    ] as const) {
      const res = await env.http().put('/api/forms/demo').set(as(marketing)).send({ name: 'X', fields });
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
    const bad = await env.http().put('/api/forms/demo').set(as(marketing)).send({ name: 'X', stage: 'lead' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('stage');
    const got = await env.http().get('/api/forms/demo').set(as(marketing));
    expect(got.body.name).toBe('Book a demo');
  });

  it('when a BANT answer is hostile or too long, then 400 names the field and no lead is written', async () => {
    const obj = await submit('demo', { email: 'hostile@example.com', budget_range: { $gt: '' } });
    expect(obj.status).toBe(400);
    expect(obj.body.error.details.map((d: { path: string }) => d.path)).toContain('budget_range');
    const long = await submit('demo', { email: 'hostile@example.com', go_live: 'x'.repeat(501) });
    expect(long.status).toBe(400);
    expect(long.body.error.details.map((d: { path: string }) => d.path)).toContain('go_live');
    expect(await Lead.countDocuments({ emailKey: 'hostile@example.com' })).toBe(0);
  });

  it('when a newsletter-only form is submitted, then a subscriber is created, who becomes a lead on the first other submission', async () => {
    expect((await submit('newsletter', { email: 'reader@example.com' })).status).toBe(201);
    let lead = await stored('reader@example.com');
    expect(lead.lifecycleStage).toBe('subscriber');
    expect(Object.keys(lead.stageDates as object)).toEqual(['subscriber']);
    // subscribing again changes nothing
    expect((await submit('newsletter', { email: 'reader@example.com', firstName: 'Rea' })).status).toBe(200);
    expect((await stored('reader@example.com')).lifecycleStage).toBe('subscriber');
    // the API (or an import, or a non-newsletter form) makes the subscriber a lead
    const api = await env.http().post('/api/leads').set(as(marketing)).send({ email: 'Reader@example.com' });
    expect(api.status).toBe(200);
    expect(api.body.lifecycleStage).toBe('lead');
    lead = await stored('reader@example.com');
    expect((lead.stageDates as Record<string, Date>).lead).toBeInstanceOf(Date);
    expect((lead.stageDates as Record<string, Date>).subscriber).toBeInstanceOf(Date);
    // and a lead that subscribes stays a lead
    expect((await submit('newsletter', { email: 'reader@example.com' })).status).toBe(200);
    expect((await stored('reader@example.com')).lifecycleStage).toBe('lead');
  });

  it('when a subscriber fills in a non-newsletter form, then it becomes a lead', async () => {
    await submit('newsletter', { email: 'second@example.com' });
    expect((await stored('second@example.com')).lifecycleStage).toBe('subscriber');
    await submit('demo', { email: 'second@example.com' });
    expect((await stored('second@example.com')).lifecycleStage).toBe('lead');
  });
});
