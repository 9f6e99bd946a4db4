/**
 * The role matrix (issue 13, "Secure by default"): for each role — admin, marketing, sales, no key,
 * a revoked key — and each management endpoint and web app page, the expected outcome, written as
 * data (API.md "Conventions": admin everything; marketing forms, sequences, scoring, qualification,
 * leads, events, reports; sales reads leads, PATCHes status/BANT/owner, handoffs, opportunities,
 * reports). The tests only walk the tables.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { uid } from '../helpers/factories.js';
import { browser } from '../helpers/web.js';
import { fill, managementEndpoints, type Endpoint, type Ids } from '../fixtures/endpoints.js';

const env = useTestEnv();
const admin = { Authorization: `Bearer ${ADMIN_KEY}` };

type Who = 'admin' | 'marketing' | 'sales' | 'none' | 'revoked';
const everyone: Who[] = ['admin', 'marketing', 'sales', 'none', 'revoked'];
/** `2xx`, or the exact status an allowed call gets (404 where the target does not exist). */
type Outcome = '2xx' | 401 | 403 | 404;

const keys = {} as Record<Who, string | undefined>;
const base = {} as Ids;

/** A call that succeeds for an allowed role answers this (the fixture ids name nothing real here). */
const allowedAnswer: Record<string, Outcome> = {
  'POST /api/handoffs/:handoffId/accept': 404,
  'POST /api/handoffs/:handoffId/reject': 404,
  'GET /api/webhooks/:webhookId/deliveries/:deliveryId': 404,
  'POST /api/webhooks/:webhookId/deliveries/:deliveryId/redeliver': 404,
};
const label = (e: Pick<Endpoint, 'method' | 'path'>) => `${e.method.toUpperCase()} ${e.path}`;

/** The API role matrix, derived from the endpoint table's `roles` (admin is always allowed). */
const apiMatrix: { ep: Endpoint; who: Who; expected: Outcome }[] = managementEndpoints.flatMap((ep) =>
  everyone.map((who) => ({
    ep,
    who,
    expected:
      who === 'none' || who === 'revoked'
        ? 401
        : who === 'admin' || ep.roles.includes(who)
          ? (allowedAnswer[label(ep)] ?? '2xx')
          : 403,
  })),
);

/** Rules that are finer than "may use the endpoint": what a role may send to it. */
const finerRules: { who: Who; method: 'patch'; path: string; body: object; expected: Outcome }[] = [
  {
    who: 'sales',
    method: 'patch',
    path: '/api/leads/:leadId',
    body: { status: 'contacted' },
    expected: '2xx',
  },
  {
    who: 'sales',
    method: 'patch',
    path: '/api/leads/:leadId',
    body: { bant: { budget: '10k' }, ownerId: 'rep-1' },
    expected: '2xx',
  },
  { who: 'sales', method: 'patch', path: '/api/leads/:leadId', body: { firstName: 'Eve' }, expected: 403 },
  {
    who: 'sales',
    method: 'patch',
    path: '/api/leads/:leadId',
    body: { email: 'x@example.test' },
    expected: 403,
  },
  {
    who: 'marketing',
    method: 'patch',
    path: '/api/leads/:leadId',
    body: { firstName: 'Ann' },
    expected: '2xx',
  },
];

const post = (path: string, body: object) => env.http().post(path).set(admin).send(body);
const newLead = async () =>
  (await post('/api/leads', { email: `rm-${uid()}@example.test`, company: 'Acme' })).body.id;

/** Ids for one call: destructive endpoints get their own targets, so every call can succeed. */
async function idsFor(ep: Endpoint): Promise<Ids> {
  const ids = { ...base };
  const l = label(ep);
  if (/DELETE \/api\/leads|merge|convert|enroll/.test(l)) ids.leadId = await newLead();
  if (l.includes('merge')) ids.lead2Id = await newLead();
  if (l === 'DELETE /api/keys/:keyId')
    ids.keyId = (await post('/api/keys', { name: 'k', role: 'sales' })).body.id;
  if (l === 'DELETE /api/webhooks/:webhookId') {
    ids.webhookId = `rm-${uid()}`;
    await env
      .http()
      .put(`/api/webhooks/${ids.webhookId}`)
      .set(admin)
      .send({ url: 'https://93.184.215.14/x', events: ['lead.qualified'] });
  }
  return ids;
}

function authOf(who: Who): Record<string, string> {
  return keys[who] ? { Authorization: `Bearer ${keys[who]}` } : {};
}

function expectOutcome(status: number, body: unknown, expected: Outcome, what: string) {
  const msg = `${what}: ${status} ${JSON.stringify(body).slice(0, 300)}`;
  if (expected === '2xx') {
    expect(status, msg).toBeGreaterThanOrEqual(200);
    expect(status, msg).toBeLessThan(300);
  } else {
    expect(status, msg).toBe(expected);
    if (typeof body === 'object' && body && 'error' in body) {
      const code = { 401: 'unauthorized', 403: 'forbidden', 404: 'not_found' }[expected];
      expect((body as { error: { code: string } }).error.code, msg).toBe(code);
    }
  }
}

beforeAll(async () => {
  keys.admin = ADMIN_KEY;
  keys.marketing = await env.keyFor('marketing');
  keys.sales = await env.keyFor('sales');
  const revoked = await post('/api/keys', { name: 'to revoke', role: 'admin' });
  keys.revoked = revoked.body.key;
  expect((await env.http().delete(`/api/keys/${revoked.body.id}`).set(admin)).status).toBe(204);
  keys.none = undefined;

  base.leadId = await newLead();
  base.lead2Id = await newLead();
  const conv = await post(`/api/leads/${await newLead()}/convert`, { createOpportunity: true });
  Object.assign(base, {
    accountId: conv.body.accountId,
    contactId: conv.body.contactId,
    oppId: conv.body.opportunityId,
  });
  base.formId = 'rm-form';
  base.seqKey = 'rm-seq';
  base.repId = 'rep-rm';
  base.webhookId = 'wh-rm';
  base.deliveryId = 'no-such-delivery';
  base.handoffId = `${base.leadId}:1`;
  const put = (path: string, body: object) => env.http().put(path).set(admin).send(body);
  expect((await put('/api/forms/rm-form', { name: 'RM' })).status).toBe(200);
  expect(
    (
      await put('/api/sequences/rm-seq', {
        name: 'RM',
        steps: [{ id: 'a', wait: '0s', subject: 'Hi', text: 'x' }],
      })
    ).status,
  ).toBe(200);
  expect((await put('/api/reps/rep-rm', { name: 'Rep', email: 'rep@sales.example' })).status).toBe(200);
  expect(
    (await put('/api/webhooks/wh-rm', { url: 'https://93.184.215.14/x', events: ['lead.qualified'] })).status,
  ).toBe(200);
  const imp = await env
    .http()
    .post('/api/imports?source=RM')
    .set(admin)
    .set('Content-Type', 'text/csv')
    .send(`email\r\nrm-imp-${uid()}@example.test\r\n`);
  base.importId = imp.body.id;
  base.keyId = (await post('/api/keys', { name: 'victim', role: 'sales' })).body.id;
});

describe('role matrix: the management API', { timeout: 120_000 }, () => {
  it.each(everyone)(
    'when %s calls every management endpoint, then each answers as the matrix says',
    async (who) => {
      for (const row of apiMatrix.filter((r) => r.who === who)) {
        const ids = await idsFor(row.ep);
        let req = env.http()[row.ep.method](fill(row.ep.path, ids)).set(authOf(who));
        if (row.ep.body) req = req.send(row.ep.body(ids, uid()));
        const res = await req;
        expectOutcome(res.status, res.body, row.expected, `${who} ${label(row.ep)}`);
      }
    },
  );

  it('when a role sends a field it may not change, then 403; the fields it may change, 2xx', async () => {
    for (const rule of finerRules) {
      const res = await env.http()[rule.method](fill(rule.path, base)).set(authOf(rule.who)).send(rule.body);
      expectOutcome(
        res.status,
        res.body,
        rule.expected,
        `${rule.who} ${rule.path} ${JSON.stringify(rule.body)}`,
      );
    }
  });

  it('when /admin/queues is opened, then only an admin key passes', async () => {
    const basic = (k: string) => `Basic ${Buffer.from(`x:${k}`).toString('base64')}`;
    const at = (who: Who) => {
      const r = env.http().get('/admin/queues/');
      return keys[who] ? r.set('Authorization', basic(keys[who]!)) : r;
    };
    const expected: Record<Who, Outcome> = {
      admin: '2xx',
      marketing: 403,
      sales: 403,
      none: 401,
      revoked: 401,
    };
    for (const who of everyone) {
      const res = await at(who);
      expectOutcome(res.status, res.body, expected[who], `${who} /admin/queues`);
    }
  });
});

/** Web app pages (GET): `2xx`, 403, or `login` (sent to the sign-in page). */
type PageOutcome = '2xx' | 403 | 'login';
const pageMatrix: { path: string; expected: Record<Who, PageOutcome> }[] = [
  '/app',
  '/app/leads',
  '/app/leads/:leadId',
  '/app/sequences',
  '/app/sequences/new',
  '/app/sequences/:seqKey',
  // sales reads forms, scoring, the inbox and the board read-only in the web app, as the API lets it
  // read leads, reports and opportunities; changing them is refused by the POST rows below
  '/app/forms',
  '/app/forms/:formId',
  '/app/scoring',
  '/app/handoffs',
  '/app/opportunities',
  '/app/reports/funnel.csv',
]
  .map((path) => ({
    path,
    expected: { admin: '2xx', marketing: '2xx', sales: '2xx', none: 'login', revoked: 'login' } as Record<
      Who,
      PageOutcome
    >,
  }))
  .concat(
    ['/app/outbox', '/app/keys'].map((path) => ({
      path,
      expected: { admin: '2xx', marketing: 403, sales: 403, none: 'login', revoked: 'login' },
    })),
  );

/** Web app forms (POST with a valid session and CSRF token): what each signed-in role may change. */
type PostOutcome = 'allowed' | 403;
const postMatrix: {
  path: string;
  form: (ids: Ids) => Record<string, string>;
  expected: Record<'admin' | 'marketing' | 'sales', PostOutcome>;
}[] = [
  {
    path: '/app/leads/:leadId/merge',
    form: (i) => ({ ids: i.lead2Id }),
    expected: { admin: 'allowed', marketing: 'allowed', sales: 403 },
  },
  {
    path: '/app/leads/bulk',
    form: (i) => ({ action: 'assign', ids: i.leadId, assignTo: 'rep-rm' }),
    expected: { admin: 'allowed', marketing: 'allowed', sales: 403 },
  },
  {
    path: '/app/scoring',
    form: () => ({ rules: JSON.stringify({ rules: [{ id: 'r', event: 'page_view', points: 1 }] }) }),
    expected: { admin: 'allowed', marketing: 'allowed', sales: 403 },
  },
  {
    path: '/app/sequences/save',
    form: () => ({
      key: 'rm-seq',
      definition: JSON.stringify({ name: 'RM', steps: [{ id: 'a', wait: '0s', subject: 'Hi', text: 'y' }] }),
    }),
    expected: { admin: 'allowed', marketing: 'allowed', sales: 403 },
  },
  {
    path: '/app/handoffs/:handoffId/accept',
    form: () => ({}),
    expected: { admin: 'allowed', marketing: 403, sales: 'allowed' },
  },
  {
    path: '/app/opportunities/:oppId/stage',
    form: () => ({ stage: 'proposal' }),
    expected: { admin: 'allowed', marketing: 403, sales: 'allowed' },
  },
  {
    path: '/app/keys',
    form: () => ({ name: 'web key', role: 'sales' }),
    expected: { admin: 'allowed', marketing: 403, sales: 403 },
  },
  {
    path: '/app/keys/:keyId/revoke',
    form: () => ({}),
    expected: { admin: 'allowed', marketing: 403, sales: 403 },
  },
];

async function signedIn(who: Who) {
  const b = browser(env.app);
  if (who === 'none') return b;
  if (who === 'revoked') {
    const made = await post('/api/keys', { name: 'web revoked', role: 'admin' });
    await b.signIn(made.body.key);
    await env.http().delete(`/api/keys/${made.body.id}`).set(admin);
    return b;
  }
  const res = await b.signIn(keys[who]!);
  expect(res.status, `${who} signs in`).toBe(303);
  return b;
}

describe('role matrix: the web app', { timeout: 120_000 }, () => {
  it.each(everyone)('when %s opens every page, then each answers as the matrix says', async (who) => {
    const b = await signedIn(who);
    for (const row of pageMatrix) {
      const res = await b.get(fill(row.path, base));
      const expected = row.expected[who];
      const what = `${who} GET ${row.path}: ${res.status} ${res.headers.location ?? ''}`;
      if (expected === 'login') {
        expect(res.status, what).toBe(303);
        expect(res.headers.location, what).toMatch(/^\/app\/login/);
      } else if (expected === 403) expect(res.status, what).toBe(403);
      else expect(res.status, what).toBe(200);
    }
  });

  it.each(['admin', 'marketing', 'sales'] as const)(
    'when %s posts every web form, then the ones it may not use are 403 and change nothing',
    async (who) => {
      const b = await signedIn(who);
      await b.get('/app');
      for (const row of postMatrix) {
        const ids = await idsFor({
          method: 'post',
          path: row.path.includes('merge') ? 'merge' : row.path,
          roles: [],
        });
        if (row.path.includes('revoke'))
          ids.keyId = (await post('/api/keys', { name: 'k', role: 'sales' })).body.id;
        const res = await b.post(fill(row.path, ids), row.form(ids));
        const what = `${who} POST ${row.path}: ${res.status} ${res.text?.slice(0, 200)}`;
        if (row.expected[who] === 403) {
          expect(res.status, what).toBe(403);
          if (row.path.includes('merge')) {
            const lead2 = await env.http().get(`/api/leads/${ids.lead2Id}`).set(admin);
            expect(lead2.status, `${what}: the merged-away lead is still there`).toBe(200);
          }
        } else {
          expect(res.status, what).not.toBe(403);
          expect(res.status, what).not.toBe(401);
          expect(res.status, what).toBeLessThan(500);
        }
      }
    },
  );

  it('when a page is posted to without a session, then 401 and nothing changes', async () => {
    const b = browser(env.app);
    for (const row of postMatrix) {
      const res = await b.post(fill(row.path, base), row.form(base), false);
      expect(res.status, row.path).toBe(401);
    }
  });
});
