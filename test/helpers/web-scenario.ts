import { expect } from 'vitest';
import { getQueue, QueueName } from '../../src/queues/index.js';
import type { TestEnv } from './env.js';
import { ADMIN_KEY } from './env.js';
import { waitFor } from './wait.js';

const as = (key: string) => ({ Authorization: `Bearer ${key}` });

/** A believable team's setup, through the API as an operator would make it. */
export async function seedSetup(env: TestEnv) {
  const marketing = await env.keyFor('marketing');
  const call = async (method: 'put' | 'post', path: string, body: object, key = marketing) => {
    const res = await env.http()[method](path).set(as(key)).send(body);
    expect(res.status, `${method.toUpperCase()} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    return res.body as Record<string, unknown>;
  };
  await call('put', '/api/scoring', {
    rules: [
      { id: 'pricing', event: 'page_view', where: { path: '/pricing' }, points: 15, maxPerDay: 2 },
      { id: 'webinar', event: 'webinar_attended', points: 25 },
      { id: 'demo', event: 'demo_requested', points: 40, maxTotal: 1 },
      { id: 'download', event: 'whitepaper_download', points: 10 },
    ],
    fit: [
      { id: 'senior', field: 'title', matches: '(CTO|CEO|VP|Head|Director)', points: 20 },
      { id: 'market', field: 'country', in: ['US', 'GB', 'DE', 'ES'], points: 10 },
    ],
  });
  await call('put', '/api/qualification', {
    threshold: 60,
    require: { budget: true },
    createOpportunity: true,
    opportunity: { amount: 12000, closeIn: '4w' },
    slaHours: 24,
    agreedBy: { marketing: 'Maya Chen', sales: 'Sam Ortiz' },
  });
  await call(
    'put',
    '/api/reps/rep-ana',
    { name: 'Ana Rivera', email: 'ana@sales.example', match: { country: ['GB', 'ES', 'DE'] } },
    ADMIN_KEY,
  );
  await call(
    'put',
    '/api/reps/rep-ben',
    { name: 'Ben Okafor', email: 'ben@sales.example', match: { country: ['US'] } },
    ADMIN_KEY,
  );
  await call('put', '/api/sequences/welcome', {
    name: 'Welcome series',
    steps: [
      {
        id: 'hello',
        wait: '0s',
        subject: 'Welcome to Acme Analytics, {{lead.firstName}}',
        html: '<p>Hi {{lead.firstName}},</p><p>Thanks for your interest. Here is <a href="https://example.com/guide">our getting-started guide</a>.</p>',
      },
      {
        id: 'case-study',
        wait: '2d',
        subject: 'How teams like {{lead.company}} cut reporting time in half',
        html: '<p>{{lead.firstName}}, see <a href="https://example.com/case">the case study</a>.</p>',
        if: { notClicked: 'hello' },
      },
    ],
    exitOn: ['qualified', 'converted', 'unsubscribed'],
  });
  await call('put', '/api/forms/demo-request', {
    name: 'Demo request',
    source: 'Website',
    sequence: 'welcome',
    fields: [{ name: 'budget', bant: 'budget' }],
  });
  const salesKey = (
    await call('post', '/api/keys', { name: 'Ana Rivera', role: 'sales', repId: 'rep-ana' }, ADMIN_KEY)
  ).key as string;
  return { marketing, salesKey };
}

type Person = {
  email: string;
  firstName: string;
  lastName: string;
  company: string;
  title: string;
  country: string;
  source: string;
  bant?: Record<string, string>;
  attributes?: Record<string, string>;
  events?: { type: string; properties?: Record<string, string> }[];
};

const pricing = { type: 'page_view', properties: { path: '/pricing' } };
export const people: Person[] = [
  {
    email: 'ada@analytical.example',
    firstName: 'Ada',
    lastName: 'Lovelace',
    company: 'Analytical Engines',
    title: 'CTO',
    country: 'GB',
    source: 'Webinar',
    bant: { budget: '50k this year', need: 'Attribution reporting' },
    events: [{ type: 'webinar_attended' }, pricing, pricing, { type: 'demo_requested' }],
  },
  {
    email: 'grace@cobol.example',
    firstName: 'Grace',
    lastName: 'Hopper',
    company: 'Cobol Systems',
    title: 'VP Engineering',
    country: 'US',
    source: 'Trade show',
    bant: { budget: '80k', timeline: 'Q3' },
    events: [{ type: 'demo_requested' }, pricing, { type: 'whitepaper_download' }],
  },
  {
    email: 'alan@bletchley.example',
    firstName: 'Alan',
    lastName: 'Turing',
    company: 'Bletchley Labs',
    title: 'Head of Research',
    country: 'GB',
    source: 'Partner',
    bant: { budget: 'approved' },
    events: [{ type: 'webinar_attended' }, { type: 'demo_requested' }],
  },
  {
    email: 'katherine@orbit.example',
    firstName: 'Katherine',
    lastName: 'Johnson',
    company: 'Orbit Dynamics',
    title: 'Director of Analytics',
    country: 'US',
    source: 'Webinar',
    events: [{ type: 'webinar_attended' }, pricing, pricing],
  },
  {
    email: 'linus@kernel.example',
    firstName: 'Linus',
    lastName: 'Torvalds',
    company: 'Kernel Works',
    title: 'Engineer',
    country: 'FI',
    source: 'Website',
    events: [pricing, { type: 'whitepaper_download' }],
  },
  {
    email: 'margaret@apollo.example',
    firstName: 'Margaret',
    lastName: 'Hamilton',
    company: 'Apollo Software',
    title: 'CEO',
    country: 'US',
    source: 'Trade show',
    events: [{ type: 'whitepaper_download' }],
  },
  {
    email: 'tim@web.example',
    firstName: 'Tim',
    lastName: 'Berners-Lee',
    company: 'Web Foundry',
    title: 'Founder',
    country: 'GB',
    source: 'Website',
  },
  {
    email: 'hedy@spectrum.example',
    firstName: 'Hedy',
    lastName: 'Lamarr',
    company: 'Spectrum Radio',
    title: 'Inventor',
    country: 'DE',
    source: 'Partner',
    events: [pricing],
  },
  {
    email: 'mallory@hostile.example',
    firstName: 'Mallory',
    lastName: 'Hacker',
    company: 'Red Team Ltd',
    title: 'Security Lead',
    country: 'ES',
    source: 'Website',
    attributes: { favouriteTag: '<img src=x onerror=alert(1)>' },
  },
];

/** Waits until no queue has a job waiting or running (delayed ones, such as later steps, may stay). */
export async function queuesIdle(timeout = 20_000): Promise<void> {
  await waitFor(
    async () => {
      for (const name of Object.values(QueueName)) {
        const c = await getQueue(name).getJobCounts('waiting', 'active', 'prioritized');
        if (Object.values(c).some((n) => n > 0)) return false;
      }
      return true;
    },
    { timeout, what: 'every queue to be idle' },
  );
}

/** Creates the people as leads, then posts their engagement as events; returns their ids by email. */
export async function seedPeople(env: TestEnv, key: string): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const p of people) {
    const { events: _e, bant: _b, ...fields } = p;
    const res = await env.http().post('/api/leads').set(as(key)).send(fields);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    ids.set(p.email, res.body.id as string);
  }
  // FerretDB v1 applies an update as read-modify-write of the whole document: a PATCH racing the
  // capture workers' writes to the same lead can be lost, so the answers wait for them to finish
  await queuesIdle();
  for (const p of people.filter((x) => x.bant)) {
    const patched = await env
      .http()
      .patch(`/api/leads/${ids.get(p.email)}`)
      .set(as(key))
      .send({ bant: p.bant });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
  }
  await queuesIdle();
  const events = people.flatMap((p) => (p.events ?? []).map((e) => ({ leadId: ids.get(p.email), ...e })));
  const posted = await env.http().post('/api/events').set(as(key)).send({ events });
  expect(posted.status).toBe(202);
  expect(posted.body.accepted).toBe(events.length);
  return ids;
}
