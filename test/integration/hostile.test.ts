/**
 * The hostile corpus (test/fixtures/hostile.ts) sent to every management endpoint of API.md
 * (test/fixtures/endpoints.ts): no 5xx, a clear 4xx in API.md's error shape naming the problem, and
 * nothing written. Public endpoints and the web app's forms are in hostile-public.test.ts.
 */
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import mongoose from 'mongoose';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { uid } from '../helpers/factories.js';
import { fill, managementEndpoints, paramsOf, type Endpoint, type Ids } from '../fixtures/endpoints.js';
import {
  deepArrayJson,
  deeplyNested,
  hostilePathParams,
  invalidUtf8,
  operatorBodies,
  operatorQueries,
  ssrfUrls,
  traversalTemplates,
} from '../fixtures/hostile.js';

const BODY_LIMIT = 64 * 1024;
const env = useTestEnv({ BODY_LIMIT_BYTES: String(BODY_LIMIT), IMPORT_MAX_BYTES: String(BODY_LIMIT) });
const admin = { Authorization: `Bearer ${ADMIN_KEY}` };
const ids = {} as Ids;

type Res = { status: number; body: unknown; text?: string; headers: Record<string, string> };

/** Documents per model, for "nothing written". */
async function counts(models: string[] = []): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of models) out[m] = await mongoose.model(m).countDocuments();
  return out;
}

/** A 4xx (never a 5xx) in API.md's error shape. */
function expectClear4xx(res: Res, what: string) {
  expect(res.status, `${what}: ${res.status} ${JSON.stringify(res.body)}`).toBeGreaterThanOrEqual(400);
  expect(res.status, `${what}: ${res.status} ${JSON.stringify(res.body)}`).toBeLessThan(500);
  expect(res.body, what).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
}

/** A validation error names the field that was wrong (its path starts with `field`). */
function expectNames(res: Res, field: string, what: string) {
  const error = (res.body as { error: { code: string; details?: { path: string }[] } }).error;
  if (error.code !== 'validation_failed') return;
  const paths = (error.details ?? []).map((d) => d.path);
  expect(
    paths.some((p) => p === field || p.startsWith(`${field}.`)),
    `${what}: details ${JSON.stringify(paths)} should name ${field}`,
  ).toBe(true);
}

function send(ep: Endpoint, path: string, body?: unknown, raw?: { type: string; data: string | Buffer }) {
  const req = env.http()[ep.method](path).set(admin);
  if (raw) return req.set('Content-Type', raw.type).send(raw.data);
  return body === undefined ? req : req.send(body as object);
}

async function setUp() {
  const post = (path: string, body: object) => env.http().post(path).set(admin).send(body);
  const put = (path: string, body: object) => env.http().put(path).set(admin).send(body);
  const ok = (res: Res, what: string) => {
    expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    return res.body as Record<string, string>;
  };
  ids.leadId = ok(await post('/api/leads', { email: `h-${uid()}@example.test` }), 'lead').id!;
  ids.lead2Id = ok(await post('/api/leads', { email: `h2-${uid()}@example.test` }), 'lead2').id!;
  const lead3 = ok(await post('/api/leads', { email: `h3-${uid()}@example.test`, company: 'Acme' }), 'lead3');
  const conv = ok(await post(`/api/leads/${lead3.id}/convert`, { createOpportunity: true }), 'convert');
  Object.assign(ids, { accountId: conv.accountId, contactId: conv.contactId, oppId: conv.opportunityId });
  ids.formId = 'hostile-form';
  ok(await put('/api/forms/hostile-form', { name: 'Hostile' }), 'form');
  ids.seqKey = 'hostile-seq';
  ok(
    await put('/api/sequences/hostile-seq', {
      name: 'Hostile',
      steps: [{ id: 'a', wait: '0s', subject: 'Hi', text: 'Hello' }],
    }),
    'sequence',
  );
  ids.repId = 'rep-hostile';
  ok(await put('/api/reps/rep-hostile', { name: 'Rep', email: 'rep@sales.example' }), 'rep');
  ids.webhookId = 'wh-hostile';
  ok(
    await put('/api/webhooks/wh-hostile', { url: 'https://93.184.215.14/x', events: ['lead.qualified'] }),
    'webhook',
  );
  ids.deliveryId = 'no-such-delivery';
  ids.handoffId = `${ids.leadId}:1`;
  const imp = await env
    .http()
    .post('/api/imports?source=Hostile')
    .set(admin)
    .set('Content-Type', 'text/csv')
    .send(`email\r\nimp-${uid()}@example.test\r\n`);
  ids.importId = ok(imp, 'import').id!;
  ids.keyId = ok(await post('/api/keys', { name: 'victim', role: 'sales' }), 'key').id!;
}

beforeAll(setUp);

const withBody = managementEndpoints.filter((e) => e.body);
const withParams = managementEndpoints.filter((e) => paramsOf(e.path).length > 0);
const gets = managementEndpoints.filter((e) => e.method === 'get');
const label = (e: Endpoint) => `${e.method.toUpperCase()} ${e.path}`;

describe('hostile bodies on every management endpoint', { timeout: 60_000 }, () => {
  it.each(withBody.map((e) => [label(e), e] as const))(
    'when %s gets an operator, array, nested, oversized, non-UTF-8 or malformed body, then 4xx and nothing written',
    async (_name, ep) => {
      const path = fill(ep.path, ids);
      const valid = ep.body!(ids, uid());
      const bodies: [string, unknown][] = [
        ...operatorBodies.map((b, i) => [`operator body ${i}`, b] as [string, unknown]),
        ...operatorBodies.map(
          (b, i) => [`valid + operator keys ${i}`, { ...valid, ...(b as object) }] as [string, unknown],
        ),
        ['array body', [valid]],
        ['deeply nested', { ...valid, ...(deeplyNested(3000) as object), nested: deeplyNested(3000) }],
      ];
      const raws: [string, { type: string; data: string | Buffer }][] = [
        ['deep arrays', { type: 'application/json', data: deepArrayJson(40_000) }],
        [
          'oversized',
          { type: 'application/json', data: JSON.stringify({ ...valid, pad: 'x'.repeat(BODY_LIMIT) }) },
        ],
        ['malformed JSON', { type: 'application/json', data: '{"a": ' }],
        ['a JSON string', { type: 'application/json', data: '"hello"' }],
        ['text/plain', { type: 'text/plain', data: JSON.stringify(valid) }],
        ['urlencoded', { type: 'application/x-www-form-urlencoded', data: 'email[$ne]=x' }],
      ];
      const firstString = Object.entries(valid).find(([, v]) => typeof v === 'string')?.[0];
      if (firstString)
        raws.push(['invalid UTF-8', { type: 'application/json', data: invalidUtf8.json(firstString) }]);
      const before = await counts(ep.models);
      for (const [what, body] of bodies) expectClear4xx(await send(ep, path, body), `${label(ep)} ${what}`);
      for (const [what, raw] of raws)
        expectClear4xx(await send(ep, path, undefined, raw), `${label(ep)} ${what}`);
      expect(await counts(ep.models)).toEqual(before);
    },
  );

  const fieldValues: [string, unknown][] = [
    ['{$gt: ""}', { $gt: '' }],
    ['{$where}', { $where: 'sleep(100)' }],
    ['an array', ['x', { $ne: 1 }]],
    ['a number', 123456789],
  ];
  // fields of these types legitimately take an object, a boolean or a number: what they may hold
  // is checked by the value tests below, not by type
  const acceptsType: Record<string, string[]> = {
    'PUT /api/forms/:formId minFillSeconds': [],
    'PATCH /api/opportunities/:oppId amount': ['a number'],
    'PUT /api/qualification threshold': ['a number'],
  };

  it.each(withBody.map((e) => [label(e), e] as const))(
    'when a field of %s holds an operator or a wrong type, then 400 names it and nothing is written',
    async (_name, ep) => {
      const path = fill(ep.path, ids);
      const valid = ep.body!(ids, uid());
      // every mutation is refused, so one count before and after covers them all
      const before = await counts(ep.models);
      for (const field of Object.keys(valid)) {
        for (const [what, value] of fieldValues) {
          if (acceptsType[`${label(ep)} ${field}`]?.includes(what)) continue;
          const res = await send(ep, path, { ...ep.body!(ids, uid()), [field]: value });
          const name = `${label(ep)} ${field}=${what}`;
          if (ep.path === '/api/events' && Array.isArray(value)) {
            // a batch answers per event (API.md): every hostile event is rejected, none accepted
            expect(res.status, name).toBe(202);
            expect(res.body, name).toMatchObject({ accepted: 0, duplicates: 0 });
            expect(res.body.rejected, name).toHaveLength(value.length);
            continue;
          }
          expectClear4xx(res, name);
          expectNames(res, field, name);
        }
      }
      expect(await counts(ep.models)).toEqual(before);
    },
  );
});

describe('hostile query strings and path parameters', { timeout: 60_000 }, () => {
  it.each(gets.map((e) => [label(e), e] as const))(
    'when %s is asked with an operator in the query, then 400 names the parameter',
    async (_name, ep) => {
      const path = fill(ep.path, ids);
      for (const q of [...operatorQueries, 'limit=abc', 'limit=100000', 'limit=1&limit=2']) {
        const res = await send(ep, `${path}?${q}`);
        if (ep.path === '/metrics') {
          expect(res.status, `${label(ep)}?${q}`).toBeLessThan(500);
          continue;
        }
        expectClear4xx(res, `${label(ep)}?${q}`);
        expect(res.status, `${label(ep)}?${q}`).toBe(400);
        const param = decodeURIComponent(q.split('=')[0]!);
        expectNames(res, param, `${label(ep)}?${q}`);
      }
    },
  );

  it.each(withParams.map((e) => [label(e), e] as const))(
    'when a path parameter of %s is traversal, an operator, invalid UTF-8 or huge, then 4xx and nothing written',
    async (_name, ep) => {
      const before = await counts(ep.models);
      for (const param of paramsOf(ep.path)) {
        for (const hostile of hostilePathParams) {
          const path = fill(ep.path, { ...ids, [param]: hostile }, true);
          const res = await send(ep, path, ep.body?.(ids, uid()));
          expectClear4xx(res, `${label(ep)} :${param}=${hostile.slice(0, 40)}`);
        }
      }
      expect(await counts(ep.models)).toEqual(before);
    },
  );
});

describe('webhook targets (SSRF) and template names (path traversal)', () => {
  it('when a webhook URL points at the machine, its network or is not http(s), then 400 names url and nothing is written', async () => {
    const urls = [...ssrfUrls];
    // a DNS name that resolves to loopback (the machine's own name in /etc/hosts, where it does)
    const own = await lookup(hostname()).catch(() => undefined);
    if (own && /^127\.|^::1$/.test(own.address)) urls.push(`http://${hostname()}:3000/`);
    const before = await counts(['Webhook']);
    for (const url of urls) {
      const res = await env
        .http()
        .put(`/api/webhooks/ssrf-${uid()}`)
        .set(admin)
        .send({ url, events: ['lead.qualified'] });
      expectClear4xx(res, url);
      expect(res.status, url).toBe(400);
      expectNames(res, 'url', url);
      // the existing webhook cannot be re-pointed either
      const replace = await env
        .http()
        .put(`/api/webhooks/${ids.webhookId}`)
        .set(admin)
        .send({ url, events: ['lead.qualified'] });
      expect(replace.status, url).toBe(400);
    }
    expect(await counts(['Webhook'])).toEqual(before);
    const kept = await env.http().get(`/api/webhooks/${ids.webhookId}`).set(admin);
    expect(kept.body.url).toBe('https://93.184.215.14/x');
  });

  it('when a sequence step names a template outside templates/, then 400 names it and nothing is written', async () => {
    const before = await counts(['SequenceVersion']);
    for (const template of traversalTemplates) {
      const res = await env
        .http()
        .put(`/api/sequences/trav-${uid()}`)
        .set(admin)
        .send({ name: 'Trav', steps: [{ id: 'a', wait: '0s', subject: 'Hi', template }] });
      expectClear4xx(res, template);
      expectNames(res, 'steps', template);
      const preview = await env
        .http()
        .post(`/api/sequences/${ids.seqKey}/preview`)
        .set(admin)
        .send({
          lead: { email: 'p@example.test' },
          steps: [{ id: 'a', wait: '0s', subject: 'x', template }],
        });
      expect(preview.status, template).toBeLessThan(500);
      expect(preview.text, template).not.toContain('root:');
    }
    expect(await counts(['SequenceVersion'])).toEqual(before);
  });
});

describe('hostile CSV imports', () => {
  const importCsv = (data: string | Buffer, query = '') =>
    env
      .http()
      .post(`/api/imports?source=Hostile${query.replace('?', '&')}`)
      .set(admin)
      .set('Content-Type', 'text/csv')
      .send(data);

  it('when the CSV is oversized, not UTF-8 or the query carries operators, then 4xx and no lead is written', async () => {
    const before = await counts(['Lead', 'Import']);
    const cases: [string, Res][] = [
      ['oversized', await importCsv(`email\r\n${'a'.repeat(BODY_LIMIT + 10)}@example.test\r\n`)],
      ['source[$ne]', await importCsv('email\r\nx@example.test\r\n', '?source[$ne]=x')],
      ['dryRun=maybe', await importCsv('email\r\nx@example.test\r\n', '?dryRun=maybe')],
      ['sequence traversal', await importCsv('email\r\nx@example.test\r\n', '?sequence=..%2F..%2Fetc')],
      ['json body', await env.http().post('/api/imports').set(admin).send({ email: 'x@example.test' })],
    ];
    for (const [what, res] of cases) expectClear4xx(res, what);
    expect(await counts(['Lead', 'Import'])).toEqual(before);
    const bad = await importCsv(invalidUtf8.csv());
    expect(bad.status, JSON.stringify(bad.body)).toBeLessThan(500);
    if (bad.status < 300) expect(bad.body.created).toBe(0);
    expect(await mongoose.model('Lead').countDocuments({ email: 'bad-utf8@example.test' })).toBe(0);
  });
});
