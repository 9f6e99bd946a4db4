/**
 * The hostile corpus against the public endpoints (forms, tracking, unsubscribe, the beacon, the
 * handoff links, sign-in) and the web app's forms, posted with a valid session and CSRF token so
 * the payload itself is what is tested: no 5xx, a clear 4xx, nothing written, markup escaped.
 */
import mongoose, { Types } from 'mongoose';
import { beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/modules/email/tokens.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { signActionToken } from '../../src/modules/handoff/action-links.js';
import { newVisitorId } from '../../src/modules/events/visitor.tokens.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { makeLead, uid } from '../helpers/factories.js';
import { browser } from '../helpers/web.js';
import {
  deeplyNested,
  forgedTokens,
  headerInjection,
  hostilePathParams,
  htmlPayloads,
  invalidUtf8,
  openRedirects,
  operatorValues,
} from '../fixtures/hostile.js';

const env = useTestEnv({ RATE_LIMIT_PUBLIC: '100000', RATE_LIMIT_TRACKING: '100000' });
const admin = { Authorization: `Bearer ${ADMIN_KEY}` };

async function counts(models: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of models) out[m] = await mongoose.model(m).countDocuments();
  return out;
}

const in4xx = (status: number, what: string) => {
  expect(status, what).toBeGreaterThanOrEqual(400);
  expect(status, what).toBeLessThan(500);
};

beforeAll(async () => {
  const res = await env
    .http()
    .put('/api/forms/pub')
    .set(admin)
    .send({
      name: 'Public',
      redirectUrl: 'https://example.com/thanks',
      allowRetUrl: true,
      minFillSeconds: 0,
      fields: [{ name: 'notes' }],
    });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
});

describe('POST /f/:formId with hostile input', { timeout: 60_000 }, () => {
  const submitJson = (body: unknown) =>
    env
      .http()
      .post('/f/pub')
      .set('Accept', 'application/json')
      .send(body as object);

  it('when a field holds an operator, a line break, markup or the wrong type, then 400 names it and no lead is written', async () => {
    const before = await counts(['Lead', 'LeadEvent']);
    const cases: [string, unknown][] = [
      ...operatorValues.map((v) => ['email', v] as [string, unknown]),
      ['email', ['a@example.test', 'b@example.test']],
      ['email', 42],
      ...headerInjection.map((v) => ['firstName', v] as [string, unknown]),
      ...headerInjection.map((v) => ['company', v] as [string, unknown]),
      ...htmlPayloads.slice(0, 4).map((v) => ['lastName', v] as [string, unknown]),
      ['firstName', { $gt: '' }],
      ['title', ['a', 'b']],
    ];
    for (const [field, value] of cases) {
      const res = await submitJson({ email: `f-${uid()}@example.test`, [field]: value });
      const what = `${field}=${JSON.stringify(value)}: ${res.status} ${JSON.stringify(res.body)}`;
      expect(res.status, what).toBe(400);
      expect(res.body.error.code, what).toBe('validation_failed');
      expect(JSON.stringify(res.body.error.details), what).toContain(field);
    }
    expect(await counts(['Lead', 'LeadEvent'])).toEqual(before);
  });

  it('when the body is an operator, nested, oversized, not UTF-8, malformed or of another type, then 4xx and nothing written', async () => {
    const before = await counts(['Lead', 'LeadEvent']);
    const raw = (type: string, data: string | Buffer, accept = 'application/json') =>
      env.http().post('/f/pub').set('Accept', accept).set('Content-Type', type).send(data);
    const cases: [string, { status: number; text: string }][] = [
      ['operator body', await submitJson({ $where: 'this.email', email: { $ne: null } })],
      ['nested', await submitJson({ email: deeplyNested(2000) })],
      ['array body', await submitJson([{ email: 'x@example.test' }])],
      [
        'oversized',
        await raw('application/json', JSON.stringify({ email: 'a@b.test', notes: 'x'.repeat(300_000) })),
      ],
      ['invalid UTF-8 JSON', await raw('application/json', invalidUtf8.json('firstName'))],
      [
        'invalid UTF-8 urlencoded',
        await raw('application/x-www-form-urlencoded', invalidUtf8.urlencoded('email')),
      ],
      [
        'raw invalid bytes',
        await raw('application/x-www-form-urlencoded', invalidUtf8.urlencodedRaw('first_name')),
      ],
      ['email[$ne]', await raw('application/x-www-form-urlencoded', 'email[$ne]=x', 'text/html')],
      ['malformed JSON', await raw('application/json', '{"email": ')],
      ['text/plain', await raw('text/plain', 'email=a@b.test')],
      [
        'too many fields',
        await raw(
          'application/x-www-form-urlencoded',
          Array.from({ length: 300 }, (_, i) => `f${i}=1`).join('&'),
        ),
      ],
    ];
    for (const [what, res] of cases) in4xx(res.status, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
    // the browser's error page names the problem and echoes nothing unescaped
    const page = cases.find(([w]) => w === 'email[$ne]')![1];
    expect(page.text).toContain('email');
    for (const path of hostilePathParams) {
      const res = await env
        .http()
        .post(`/f/${path}`)
        .send({ email: `p-${uid()}@example.test` });
      in4xx(res.status, `/f/${path.slice(0, 30)}: ${res.status}`);
    }
    expect(await counts(['Lead', 'LeadEvent'])).toEqual(before);
  });

  it('when retURL points anywhere off the form’s origins, then the browser goes to the form’s redirectUrl', async () => {
    for (const target of openRedirects) {
      const res = await env
        .http()
        .post('/f/pub')
        .set('Accept', 'text/html')
        .type('form')
        .send({ email: `r-${uid()}@example.test`, retURL: target });
      expect(res.status, `${target}: ${res.status} ${res.text?.slice(0, 200)}`).toBe(303);
      expect(res.headers.location, target).toBe('https://example.com/thanks');
    }
  });

  it('when free text holds markup, then it is stored as given and escaped on the lead page', async () => {
    const email = `x-${uid()}@example.test`;
    const res = await submitJson({ email, description: htmlPayloads[0], notes: htmlPayloads[2] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const lead = await env.http().get(`/api/leads/${res.body.leadId}`).set(admin);
    expect(JSON.stringify(lead.body.attributes)).toContain('<script>alert(1)</script>');
    const b = browser(env.app);
    await b.signIn(ADMIN_KEY);
    const page = await b.get(`/app/leads/${res.body.leadId}`);
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('<script>alert(1)</script>');
    expect(page.text).not.toContain('<svg onload');
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('forged and replayed tokens', { timeout: 60_000 }, () => {
  let sendId: string;
  let leadId: string;
  beforeAll(async () => {
    const lead = await makeLead({ firstName: 'Tok' });
    leadId = String(lead._id);
    const send = await EmailSend.create({
      sendKey: `${uid()}:a`,
      leadId: lead._id,
      enrollmentId: new Types.ObjectId(),
      sequenceKey: 'tok',
      stepId: 'a',
      content: { subject: 'Hi', html: '<p>x</p>' },
      status: 'sent',
      sentAt: new Date(),
    });
    sendId = String(send._id);
  });
  const secret = () => env.rt.trackingSecret;

  it('when an open, click or unsubscribe token is forged or altered, then 404 and nothing is recorded', async () => {
    const open = signToken(secret(), { kind: 'open', sendId });
    const click = signToken(secret(), { kind: 'click', sendId, url: 'https://example.com/pricing' });
    const unsub = signToken(secret(), { kind: 'unsubscribe', sendId });
    const before = await counts(['LeadEvent', 'Suppression']);
    const sendBefore = await EmailSend.findById(sendId).lean();
    const cases: [string, string][] = [
      ...forgedTokens(open).map((t): [string, string] => [`/t/o/${t}`, 'get']),
      ...forgedTokens(click).map((t): [string, string] => [`/t/c/${t}`, 'get']),
      ...forgedTokens(unsub).flatMap((t): [string, string][] => [
        [`/u/${t}`, 'get'],
        [`/u/${t}`, 'post'],
      ]),
      // a genuine token of another kind is no key to this door
      [`/t/c/${open}`, 'get'],
      [`/u/${open}`, 'post'],
      [`/t/o/${unsub}`, 'get'],
      [`/u/${signToken('another-secret', { kind: 'unsubscribe', sendId })}`, 'post'],
    ];
    for (const [path, method] of cases) {
      const req =
        method === 'post'
          ? env.http().post(path).type('form').send('List-Unsubscribe=One-Click')
          : env.http().get(path);
      const res = await req;
      expect(res.status, `${method} ${path.slice(0, 80)}: ${res.status}`).toBe(
        path.includes('%FF') ? 400 : 404,
      );
      expect(res.headers.location, path).toBeUndefined();
    }
    expect(await counts(['LeadEvent', 'Suppression'])).toEqual(before);
    const sendAfter = await EmailSend.findById(sendId).lean();
    expect(sendAfter?.openedAt ?? null).toEqual(sendBefore?.openedAt ?? null);
    expect(sendAfter?.clickedAt ?? null).toEqual(sendBefore?.clickedAt ?? null);
  });

  it('when a genuine unsubscribe is replayed, then every answer is 200 and one suppression is kept', async () => {
    const unsub = signToken(secret(), { kind: 'unsubscribe', sendId });
    const before = await counts(['Suppression']);
    for (let i = 0; i < 3; i++) {
      const res = await env.http().post(`/u/${unsub}`).type('form').send('List-Unsubscribe=One-Click');
      expect(res.status).toBe(200);
    }
    expect((await counts(['Suppression'])).Suppression).toBe(before.Suppression! + 1);
    const lead = await env.http().get(`/api/leads/${leadId}`).set(admin);
    expect(lead.body.unsubscribed).toBe(true);
  });

  it('when a click token is genuine, then it goes only to the sealed URL', async () => {
    const click = signToken(secret(), { kind: 'click', sendId, url: 'https://example.com/pricing?a=1' });
    const res = await env.http().get(`/t/c/${click}?url=https://evil.example/&next=//evil.example`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('https://example.com/pricing?a=1');
  });

  it('when a handoff link is forged or altered, then a 404 page and no decision', async () => {
    const good = signActionToken(secret(), 'accept', `${leadId}:1`, 'rep-x');
    const before = await counts(['Handoff']);
    for (const t of [
      ...forgedTokens(good),
      good,
      signActionToken('other', 'accept', `${leadId}:1`, 'rep-x'),
    ]) {
      for (const method of ['get', 'post'] as const) {
        const res = await env.http()[method](`/h/${t}`).type('form').send({ reason: htmlPayloads[0] });
        expect(res.status, `${method} /h/${t.slice(0, 40)}`).toBe(t.includes('%FF') ? 400 : 404);
        expect(res.text).not.toContain('<script>alert(1)</script>');
      }
    }
    expect(await counts(['Handoff'])).toEqual(before);
  });

  it('when a beacon carries a visitor id leadflow did not sign, then it is ignored (204) and nothing is written', async () => {
    const models = ['TrackedVisitor', 'AnonymousVisit', 'AnonymousVisitor', 'LeadEvent'];
    const before = await counts(models);
    const genuine = newVisitorId(secret());
    const forged = [...forgedTokens(genuine), newVisitorId('another-secret'), leadId];
    // an id longer than any leadflow issues is refused outright; the others are ignored
    for (const v of forged.filter((f) => f.length > 100)) {
      const res = await env
        .http()
        .post('/t/e')
        .set('Content-Type', 'text/plain')
        .send(JSON.stringify({ v, id: `pv${uid()}`, url: 'https://example.com/pricing' }));
      in4xx(res.status, v.slice(0, 40));
    }
    for (const v of forged.filter((f) => f.length <= 100)) {
      const res = await env
        .http()
        .post('/t/e')
        .set('Content-Type', 'text/plain')
        .send(JSON.stringify({ v, id: `pv${uid()}`, url: 'https://example.com/pricing' }));
      expect(res.status, v.slice(0, 40)).toBe(204);
    }
    const hostile: [string, string, string | Buffer][] = [
      [
        'operator',
        'application/json',
        JSON.stringify({ v: { $gt: '' }, id: 'abcdefgh', url: 'https://e.x/' }),
      ],
      [
        'extra key',
        'application/json',
        JSON.stringify({ v: genuine, id: 'abcdefgh', url: 'https://e.x/', $where: 1 }),
      ],
      [
        'javascript: url',
        'text/plain',
        JSON.stringify({ v: genuine, id: 'abcdefgh', url: 'javascript:alert(1)' }),
      ],
      [
        'oversized',
        'text/plain',
        JSON.stringify({ v: genuine, id: 'abcdefgh', url: 'https://e.x/', title: 'x'.repeat(20_000) }),
      ],
      ['invalid UTF-8', 'application/json', invalidUtf8.json('title')],
      ['malformed', 'application/json', '{"v":'],
      ['wrong type', 'image/png', 'x'],
    ];
    for (const [what, type, data] of hostile) {
      const res = await env.http().post('/t/e').set('Content-Type', type).send(data);
      in4xx(res.status, `${what}: ${res.status} ${res.text}`);
    }
    expect(await counts(models)).toEqual(before);
  });
});

describe('sign-in, sessions and the web app’s forms', { timeout: 60_000 }, () => {
  it('when next= points off the app, then sign-in lands on /app', async () => {
    for (const next of openRedirects) {
      const b = browser(env.app);
      const login = await b.get(`/app/login?next=${encodeURIComponent(next)}`);
      expect(login.status).toBe(200);
      expect(login.text, next).not.toMatch(/(value|href|action)="\s*(https?:|javascript:|data:)?[/\\]{2}/i);
      expect(login.text, next).not.toMatch(/(value|href|action)="\s*(https?:|javascript:|data:)/i);
      const res = await b.post('/app/login', { key: ADMIN_KEY, next });
      expect(res.status, next).toBe(303);
      // only a path inside the app: never another host, a scheme, or a protocol-relative //host
      expect(res.headers.location, next).toMatch(/^\/app(\/[^/\\]|\?|$)/);
      expect(res.headers.location, next).not.toMatch(/[\\\r\n]|\/\//);
    }
  });

  it('when the key field is hostile, then 401 with no session, and a forged or ended session is sent to sign in', async () => {
    const before = await counts(['WebSession']);
    for (const key of [...headerInjection, ...htmlPayloads, 'x'.repeat(100_000)]) {
      const b = browser(env.app);
      await b.get('/app/login');
      const res = await b.post('/app/login', { key });
      expect([401, 413], key.slice(0, 30)).toContain(res.status);
      expect(String(res.headers['set-cookie'] ?? '')).not.toContain('lf_session=s');
      expect(res.text ?? '').not.toContain('<script>alert(1)</script>');
    }
    expect(await counts(['WebSession'])).toEqual(before);
    for (const cookie of [
      'lf_session=forged',
      `lf_session=s%3A${'A'.repeat(43)}.forgedsig`,
      'lf_session[$ne]=1',
    ]) {
      const res = await env.http().get('/app/leads').set('Cookie', cookie);
      expect(res.status, cookie).toBe(303);
      expect(res.headers.location).toMatch(/^\/app\/login/);
    }
    const b = browser(env.app);
    await b.signIn(ADMIN_KEY);
    const cookie = (await b.agent.get('/app')).request.getHeader?.('cookie');
    await b.post('/app/logout', {});
    if (typeof cookie === 'string') {
      const replay = await env.http().get('/app').set('Cookie', cookie);
      expect(replay.status).toBe(303);
    }
  });

  it('when a web form gets unknown fields, operators, oversized or non-UTF-8 values, or hostile ids, then 4xx and nothing is written', async () => {
    const b = browser(env.app);
    await b.signIn(ADMIN_KEY);
    await b.get('/app');
    const lead = String((await makeLead())._id);
    const models = ['Lead', 'ApiKey', 'ScoringRuleset', 'SequenceVersion', 'Opportunity', 'Account'];
    const before = await counts(models);
    const forms: [string, Record<string, string | string[]>][] = [
      ['/app/keys', { name: htmlPayloads[0]!, role: 'admin' }],
      ['/app/keys', { name: headerInjection[0]!, role: 'admin' }],
      ['/app/keys', { name: 'ok', role: 'root' }],
      ['/app/keys', { name: 'ok', role: 'sales', $where: '1' }],
      ['/app/keys', { name: ['a', 'b'], role: 'sales' }],
      ['/app/scoring', { rules: '{"rules": [{"id": {"$gt": ""}, "event": "x", "points": 1}]}' }],
      ['/app/scoring', { rules: '{"rules": ' }],
      ['/app/scoring', { rules: JSON.stringify(deeplyNested(500)) }],
      ['/app/sequences/save', { key: '../../etc', definition: '{"name":"x","steps":[]}' }],
      [
        '/app/sequences/save',
        {
          key: 'trav',
          definition: JSON.stringify({
            name: 'x',
            steps: [{ id: 'a', wait: '0s', subject: 'x', template: '../../etc/passwd' }],
          }),
        },
      ],
      ['/app/leads/bulk', { action: 'delete', ids: lead }],
      ['/app/leads/bulk', { action: 'assign', ids: lead, 'ids[$ne]': 'x' }],
      [`/app/leads/${lead}/merge`, { ids: ['not-an-id'] }],
      [`/app/leads/${lead}/merge`, { ids: lead, extra: '1' }],
      [`/app/leads/${lead}/convert`, { createOpportunity: 'yes' }],
      ['/app/opportunities/000000000000000000000000/stage', { stage: 'won' }],
      [`/app/handoffs/${lead}:1/reject`, { reason: 'x'.repeat(2000) }],
    ];
    // the editor's live check answers 200 with the errors listed (an htmx fragment), and saves nothing
    const check = await b.post('/app/sequences/validate', { definition: '{"name": {"$gt": ""}}' });
    expect(check.status).toBe(200);
    expect(check.text).toContain('<code>name</code>');
    for (const [path, form] of forms) {
      const res = await b.post(path, form);
      in4xx(
        res.status,
        `${path} ${JSON.stringify(form).slice(0, 80)}: ${res.status} ${res.text?.slice(0, 200)}`,
      );
      expect(res.text ?? '').not.toContain('<script>alert(1)</script>');
    }
    // invalid UTF-8 and oversized bodies, sent raw
    for (const data of [invalidUtf8.urlencoded('name'), `name=${'x'.repeat(300_000)}`]) {
      const res = await b.agent
        .post('/app/keys')
        .type('form')
        .send(`_csrf=${encodeURIComponent(b.csrf)}&role=sales&${data}`);
      in4xx(res.status, `raw ${data.slice(0, 20)}: ${res.status}`);
    }
    for (const p of hostilePathParams) {
      for (const path of [`/app/leads/${p}`, `/app/sequences/${p}`, `/app/forms/${p}`]) {
        const res = await b.agent.get(path);
        in4xx(res.status, `${path.slice(0, 60)}: ${res.status}`);
      }
      for (const path of [
        `/app/leads/${p}/merge`,
        `/app/keys/${p}/revoke`,
        `/app/opportunities/${p}/stage`,
      ]) {
        const res = await b.post(path, { ids: lead, stage: 'proposal' });
        in4xx(res.status, `${path.slice(0, 60)}: ${res.status}`);
      }
    }
    expect(await counts(models)).toEqual(before);
  });
});
