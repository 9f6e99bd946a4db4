import { Types } from 'mongoose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { advanceClock, resetClock } from '../../src/lib/clock.js';
import { signToken } from '../../src/modules/email/index.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { attributionOf } from '../../src/modules/events/attribution.logic.js';
import {
  AnonymousVisit,
  AnonymousVisitor,
  AttributionTouch,
  LeadEvent,
  newVisitorId,
  purgeAnonymousVisits,
  readAnonymousVisits,
  signLeadToken,
  TrackedVisitor,
  verifyLeadToken,
  verifyVisitorId,
} from '../../src/modules/events/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';

const day = 24 * 3600 * 1000;
let ipSeq = 0;
/** Each test speaks from its own client address (the app trusts X-Forwarded-For from loopback). */
const newIp = () => `10.77.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}`;
let pvSeq = 0;
const pageViewId = () => `pv${Date.now().toString(36)}${(++pvSeq).toString(36).padStart(6, '0')}`;

describe('website tracking: /t/js, /t/v, /t/e, identification and attribution', () => {
  const env = useTestEnv({ RATE_LIMIT_TRACKING: '40', TRACKING_DOMAINS: 'site.example' });
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };

  beforeAll(async () => {
    const res = await env
      .http()
      .put('/api/forms/signup')
      .set(auth)
      .send({ name: 'Sign up', source: 'Website' });
    expect(res.status).toBe(200);
  });
  afterEach(() => resetClock());

  const mint = async (ip = newIp()): Promise<string> => {
    const res = await env.http().get('/t/v').set('X-Forwarded-For', ip);
    expect(res.status).toBe(200);
    return res.body.vid as string;
  };
  const beacon = (
    body: unknown,
    opts: { ip?: string; type?: string; headers?: Record<string, string> } = {},
  ) =>
    env
      .http()
      .post('/t/e')
      .set('X-Forwarded-For', opts.ip ?? newIp())
      .set('Content-Type', opts.type ?? 'text/plain;charset=UTF-8')
      .set(opts.headers ?? {})
      .send(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
  const view = (v: string, url: string, extra: Record<string, unknown> = {}) => ({
    e: 'page_view',
    v,
    id: pageViewId(),
    url,
    title: 'Pricing',
    referrer: 'https://www.google.com/search?q=private',
    ...extra,
  });
  const submit = (fields: Record<string, unknown>) =>
    env
      .http()
      .post('/f/signup')
      .set('X-Forwarded-For', newIp())
      .set('Content-Type', 'application/json')
      .send(fields);
  const keyOf = (vid: string) => vid.split('.')[0]!;
  const written = async () => ({
    visits: await AnonymousVisit.countDocuments({}),
    visitors: await TrackedVisitor.countDocuments({}),
    events: await LeadEvent.countDocuments({ type: 'page_view' }),
    touches: await AttributionTouch.countDocuments({}),
  });

  it('when a site loads /t/js, then it gets cacheable JavaScript that a cross-origin page may run', async () => {
    const res = await env.http().get('/t/js');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/javascript; charset=utf-8');
    expect(res.headers['cache-control']).toMatch(/^public, max-age=\d+/);
    expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers.etag).toBeTruthy();
    expect(res.text).toContain('sendBeacon');
    expect(res.text).toContain("'/t/e'");
    expect(res.text).toContain('globalPrivacyControl');
    const cached = await env.http().get('/t/js').set('If-None-Match', res.headers.etag!);
    expect(cached.status).toBe(304);

    const v = await env.http().get('/t/v');
    expect(v.headers['cache-control']).toBe('no-store');
    expect(v.headers['access-control-allow-origin']).toBe('*');
    expect(verifyVisitorId(env.rt.trackingSecret, v.body.vid)).toBe(keyOf(v.body.vid));
  });

  it('when an anonymous visitor submits a form with its id, then its earlier page views become the lead’s page_view events', async () => {
    const vid = await mint();
    const first = await beacon(
      view(vid, 'https://www.site.example/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring'),
    );
    expect(first.status).toBe(204);
    await beacon(view(vid, 'https://www.site.example/features', { title: 'Features' }));
    expect(await AnonymousVisit.countDocuments({ visitor: keyOf(vid) })).toBe(2);

    const res = await submit({ email: 'anon.visitor@example.com', firstName: 'Ann', lf_vid: vid });
    expect(res.status).toBe(201);
    const leadId = res.body.leadId as string;
    const events = await LeadEvent.find({ leadId, type: 'page_view' }).sort({ occurredAt: 1 }).lean();
    expect(events.map((e) => e.properties)).toEqual([
      {
        path: '/pricing',
        title: 'Pricing',
        referrer: 'https://www.google.com/search',
        host: 'www.site.example',
        utm_source: 'google',
        utm_medium: 'cpc',
        utm_campaign: 'spring',
        anonymous: true,
      },
      {
        path: '/features',
        title: 'Features',
        referrer: 'https://www.google.com/search',
        host: 'www.site.example',
        anonymous: true,
      },
    ]);
    expect(await AnonymousVisit.countDocuments({ visitor: keyOf(vid) })).toBe(0);
    // tracking fields are not lead data
    const lead = await env.http().get(`/api/leads/${leadId}`).set(auth);
    expect(lead.body.attributes).toEqual({});
    expect(lead.body.attribution.firstTouch).toMatchObject({
      utm_source: 'google',
      utm_campaign: 'spring',
      landingPage: 'https://www.site.example/pricing',
      referrer: 'https://www.google.com/search',
    });

    // once known, a page view goes straight to the lead
    expect((await beacon(view(vid, 'https://www.site.example/docs'))).status).toBe(204);
    const docs = await LeadEvent.findOne({ leadId, type: 'page_view', 'properties.path': '/docs' }).lean();
    expect(docs?.properties).not.toHaveProperty('anonymous');
    expect(await AnonymousVisit.countDocuments({ visitor: keyOf(vid) })).toBe(0);
  });

  it('when a repeated beacon carries the same page-view id, then it counts once', async () => {
    const vid = await mint();
    const body = view(vid, 'https://www.site.example/once');
    await beacon(body);
    await beacon(body);
    const res = await submit({ email: 'repeat.beacon@example.com', lf_vid: vid });
    expect(await LeadEvent.countDocuments({ leadId: res.body.leadId, type: 'page_view' })).toBe(1);
  });

  it('when one visitor’s page views race, then each gets its own slot and all are attached on identification', async () => {
    const vid = await mint();
    const ip = newIp();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => beacon(view(vid, `https://www.site.example/race/${i}`), { ip })),
    );
    const stored = await readAnonymousVisits(keyOf(vid));
    expect(stored.map((v) => v._id).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `${keyOf(vid)}:${i}`).sort(),
    );
    const res = await submit({ email: 'racing.views@example.com', lf_vid: vid });
    expect(await LeadEvent.countDocuments({ leadId: res.body.leadId, type: 'page_view' })).toBe(10);
    expect(await readAnonymousVisits(keyOf(vid))).toEqual([]);
    expect(await AnonymousVisitor.findById(keyOf(vid)).lean()).toBeNull();
  });

  it('when visitor ids are forged, altered or signed with another secret, then they are ignored and nothing is written', async () => {
    const before = await written();
    const genuine = await mint();
    const [id, sig] = genuine.split('.') as [string, string];
    const forged = [
      `${id}.${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`,
      newVisitorId('some-other-secret-0123456789'),
      'A'.repeat(22) + '.' + 'A'.repeat(22),
      'not-a-visitor-id',
    ];
    for (const v of forged) {
      expect((await beacon(view(v, 'https://www.site.example/forged'))).status).toBe(204);
    }
    const res = await submit({ email: 'forged.vid@example.com', lf_vid: forged[0] });
    expect(res.status).toBe(201);
    expect(await written()).toEqual(before);
    expect(await TrackedVisitor.countDocuments({ leadId: res.body.leadId })).toBe(0);
  });

  it('when beacon bodies are hostile, then they get a 4xx naming the problem and nothing is written', async () => {
    const vid = await mint();
    const before = await written();
    const ok = view(vid, 'https://www.site.example/');
    const cases: { body: unknown; type?: string; status: number; code: string }[] = [
      { body: 'x'.repeat(9000), status: 413, code: 'payload_too_large' },
      { body: JSON.stringify({ ...ok, title: 'x'.repeat(9000) }), status: 413, code: 'payload_too_large' },
      { body: { ...ok, v: { $gt: '' } }, status: 400, code: 'validation_failed' },
      { body: { ...ok, url: { $ne: null } }, status: 400, code: 'validation_failed' },
      { body: { ...ok, $where: '1' }, status: 400, code: 'validation_failed' },
      { body: { ...ok, id: 12345678 }, status: 400, code: 'validation_failed' },
      { body: { ...ok, url: 'javascript:alert(1)' }, status: 400, code: 'validation_failed' },
      { body: { ...ok, title: ['a', 'b'] }, status: 400, code: 'validation_failed' },
      {
        body: JSON.stringify({ ...ok, title: 'bad' }).replace('bad', '\\ud800'),
        status: 400,
        code: 'validation_failed',
      },
      { body: '[1]', status: 400, code: 'bad_request' },
      { body: '{"v":', status: 400, code: 'bad_request' },
      { body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), status: 400, code: 'bad_request' },
      {
        body: 'v=%FF%FE&id=abcdefgh',
        type: 'application/x-www-form-urlencoded',
        status: 400,
        code: 'bad_request',
      },
      {
        body: 'v[$gt]=&id=abcdefgh12&url=https://a.example/',
        type: 'application/x-www-form-urlencoded',
        status: 400,
        code: 'validation_failed',
      },
      { body: JSON.stringify(ok), type: 'image/png', status: 415, code: 'unsupported_media_type' },
      { body: '', status: 400, code: 'bad_request' },
    ];
    for (const c of cases) {
      const res = await beacon(c.body, { type: c.type });
      expect(res.status, String(c.body).slice(0, 60)).toBe(c.status);
      expect(res.body.error.code).toBe(c.code);
    }
    const named = await beacon({ ...ok, v: { $gt: '' }, url: 'ftp://x' });
    expect(named.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['url', 'v']);
    expect(await written()).toEqual(before);
    // a urlencoded beacon is accepted too
    const form = new URLSearchParams({
      v: vid,
      id: pageViewId(),
      url: 'https://www.site.example/form-encoded',
    });
    expect((await beacon(form.toString(), { type: 'application/x-www-form-urlencoded' })).status).toBe(204);
    expect(await AnonymousVisit.countDocuments({ visitor: keyOf(vid) })).toBe(1);
  });

  it('when a client sends more beacons than the limit, then it gets 429 with Retry-After, and others do not', async () => {
    const vid = await mint();
    const ip = newIp();
    // counted before anything else: an unsigned id (answered 204, nothing stored) keeps the burst cheap
    const unsigned = 'u'.repeat(45);
    // a fixed window may turn over during the burst: then a second window's allowance passes too
    let passed = 0;
    let last: Awaited<ReturnType<typeof beacon>> | undefined;
    for (let i = 0; i < 81; i++) {
      last = await beacon(view(unsigned, 'https://www.site.example/rl'), { ip });
      if (last.status !== 204) break;
      passed++;
    }
    expect(passed).toBeGreaterThanOrEqual(40);
    expect(last!.status).toBe(429);
    expect(last!.body.error.code).toBe('rate_limited');
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    expect((await env.http().get('/t/v').set('X-Forwarded-For', ip)).status).toBe(429);
    expect((await beacon(view(vid, 'https://www.site.example/rl'))).status).toBe(204);
  });

  it('when the browser sends Do Not Track or Global Privacy Control, then nothing is recorded', async () => {
    const vid = await mint();
    const before = await written();
    for (const headers of [{ DNT: '1' }, { 'Sec-GPC': '1' }] as Record<string, string>[]) {
      expect((await beacon(view(vid, 'https://www.site.example/private'), { headers })).status).toBe(204);
    }
    expect(await written()).toEqual(before);
  });

  it('when a visitor becomes known, then only page views of the last 30 days are attached, and the purge drops older ones', async () => {
    const vid = await mint();
    advanceClock(-31 * day);
    await beacon(view(vid, 'https://www.site.example/old'));
    advanceClock(29 * day);
    await beacon(view(vid, 'https://www.site.example/recent'));
    resetClock();
    const res = await submit({ email: 'thirty.days@example.com', lf_vid: vid });
    const paths = (await LeadEvent.find({ leadId: res.body.leadId, type: 'page_view' }).lean()).map(
      (e) => (e.properties as { path: string }).path,
    );
    expect(paths).toEqual(['/recent']);
    expect(await AnonymousVisit.countDocuments({ visitor: keyOf(vid) })).toBe(0);

    // a visitor who stays anonymous: the hourly cleanup drops what is older than 30 days
    const stranger = await mint();
    advanceClock(-31 * day);
    await beacon(view(stranger, 'https://www.site.example/old'));
    resetClock();
    await beacon(view(stranger, 'https://www.site.example/recent'));
    expect(await purgeAnonymousVisits(new Date())).toBeGreaterThanOrEqual(1);
    const left = await AnonymousVisit.find({ visitor: keyOf(stranger) }).lean();
    expect(left.map((v) => v.path)).toEqual(['/recent']);
  });

  it('when touches come in over time, then first touch stays the earliest and last touch moves forward', async () => {
    const vid = await mint();
    const res = await submit({ email: 'touches@example.com', lf_vid: vid });
    const leadId = res.body.leadId as string;
    const attribution = async () => (await env.http().get(`/api/leads/${leadId}`).set(auth)).body.attribution;
    expect(await attribution()).toEqual({ firstTouch: null, lastTouch: null });

    await beacon(view(vid, 'https://www.site.example/?utm_source=news&utm_campaign=spring'));
    advanceClock(3600_000);
    await beacon(view(vid, 'https://www.site.example/?utm_source=ads&utm_campaign=summer&gclid=abc'));
    advanceClock(3600_000);
    await beacon(view(vid, 'https://www.site.example/no-campaign'));
    let a = await attribution();
    expect(a.firstTouch).toMatchObject({ utm_source: 'news', utm_campaign: 'spring' });
    expect(a.lastTouch).toMatchObject({ utm_source: 'ads', utm_campaign: 'summer', gclid: 'abc' });

    // a form carrying campaign fields (the embed adds them) is a touch too
    advanceClock(3600_000);
    await submit({
      email: 'touches@example.com',
      utm_source: 'partner',
      utm_campaign: 'autumn',
      lf_page: 'https://www.site.example/landing?secret=1',
      lf_ref: 'https://partner.example/post?x=1',
    });
    a = await attribution();
    expect(a.firstTouch.utm_campaign).toBe('spring');
    expect(a.lastTouch).toMatchObject({
      utm_source: 'partner',
      utm_campaign: 'autumn',
      landingPage: 'https://www.site.example/landing',
      referrer: 'https://partner.example/post',
    });
    expect(new Date(a.lastTouch.at).getTime()).toBeGreaterThan(new Date(a.firstTouch.at).getTime());
  });

  it('when many campaign page views of one lead race, then the attribution is the earliest and latest touch record', async () => {
    const vid = await mint();
    const res = await submit({ email: 'racing.touches@example.com', lf_vid: vid });
    const leadId = res.body.leadId as string;
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        beacon(view(vid, `https://www.site.example/?utm_source=s${i}&utm_campaign=c${i}`)),
      ),
    );
    const touches = await AttributionTouch.find({ leadId }).lean();
    expect(touches).toHaveLength(12);
    const expected = attributionOf(touches.map((t) => ({ ...t, key: t._id })))!;
    const lead = await Lead.findById(leadId).lean();
    const got = lead!.attribution as {
      firstTouch: { utm_source: string };
      lastTouch: { utm_source: string };
    };
    expect(got.firstTouch.utm_source).toBe(expected.firstTouch.utm_source);
    expect(got.lastTouch.utm_source).toBe(expected.lastTouch.utm_source);
  });

  it('when a lead follows a tracked email click to a tracked site, then the lf_t token makes the visitor known as the lead', async () => {
    const lead = await submit({ email: 'email.clicker@example.com' });
    const leadId = lead.body.leadId as string;
    const send = await EmailSend.create({
      sendKey: `test:${String(new Types.ObjectId())}`,
      leadId,
      content: { subject: 'Hello' },
      status: 'sent',
    });
    const click = (url: string) =>
      env
        .http()
        .get(`/t/c/${signToken(env.rt.trackingSecret, { kind: 'click', sendId: String(send._id), url })}`)
        .set('X-Forwarded-For', newIp());
    const res = await click('https://www.site.example/pricing?utm_source=newsletter#plans');
    expect(res.status).toBe(302);
    const dest = new URL(res.headers.location!);
    expect(dest.origin + dest.pathname + dest.hash).toBe('https://www.site.example/pricing#plans');
    expect(dest.searchParams.get('utm_source')).toBe('newsletter');
    const token = dest.searchParams.get('lf_t')!;
    expect(verifyLeadToken(env.rt.trackingSecret, token, Date.now())).toBe(leadId);
    // other sites never see a lead token
    const elsewhere = await click('https://other.example/article');
    expect(elsewhere.headers.location).toBe('https://other.example/article');

    // the same browser had browsed anonymously before
    const vid = await mint();
    await beacon(view(vid, 'https://www.site.example/blog'));
    // a forged or expired token identifies nobody
    await beacon(view(vid, 'https://www.site.example/x', { t: `${token.slice(0, -2)}AA` }));
    advanceClock(25 * 3600_000);
    await beacon(view(vid, 'https://www.site.example/y', { t: token }));
    resetClock();
    expect(await TrackedVisitor.findById(keyOf(vid)).lean()).toBeNull();

    await beacon(view(vid, 'https://www.site.example/pricing?utm_source=newsletter', { t: token }));
    const bound = await TrackedVisitor.findById(keyOf(vid)).lean();
    expect(String(bound?.leadId)).toBe(leadId);
    expect(bound?.via).toBe('email_click');
    const paths = (await LeadEvent.find({ leadId, type: 'page_view' }).sort({ occurredAt: 1 }).lean()).map(
      (e) => (e.properties as { path: string }).path,
    );
    expect(paths.sort()).toEqual(['/blog', '/pricing', '/x', '/y']);
    const view2 = await env.http().get(`/api/leads/${leadId}`).set(auth);
    expect(view2.body.attribution.firstTouch.utm_source).toBe('newsletter');

    // a token for a lead that was erased binds nobody
    const gone = await submit({ email: 'erased.clicker@example.com' });
    const goneToken = signLeadToken(env.rt.trackingSecret, gone.body.leadId, Date.now());
    expect((await env.http().delete(`/api/leads/${gone.body.leadId}`).set(auth)).status).toBe(204);
    const other = await mint();
    await beacon(view(other, 'https://www.site.example/', { t: goneToken }));
    expect(await TrackedVisitor.findById(keyOf(other)).lean()).toBeNull();
  });

  it('when a lead is erased, then its visitor bindings and touches go with it', async () => {
    const vid = await mint();
    await beacon(view(vid, 'https://www.site.example/?utm_source=erase'));
    const res = await submit({ email: 'erase.me@example.com', lf_vid: vid });
    const leadId = res.body.leadId as string;
    expect(await TrackedVisitor.countDocuments({ leadId })).toBe(1);
    expect(await AttributionTouch.countDocuments({ leadId })).toBe(1);
    expect((await env.http().delete(`/api/leads/${leadId}`).set(auth)).status).toBe(204);
    expect(await TrackedVisitor.countDocuments({ leadId })).toBe(0);
    expect(await AttributionTouch.countDocuments({ leadId })).toBe(0);
  });
});
