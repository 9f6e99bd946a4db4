import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Types } from 'mongoose';
import { EmailSend, signToken } from '../../src/modules/email/index.js';
import { AnonymousVisit, LeadEvent, pasteSnippet, TrackedVisitor } from '../../src/modules/events/index.js';
import { runWorker, workerOptions } from '../../src/lib/worker.js';
import { Lead } from '../../src/modules/leads/index.js';
import { scoringProcessor } from '../../src/modules/scoring/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { putRules, waitForScore } from '../helpers/scoring.js';
import { waitFor } from '../helpers/wait.js';

/** Debian's Chromium (`.ci/run` installs it); CHROMIUM_PATH points elsewhere. */
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

// the app listens on a real port, and its PUBLIC_URL (the embed's form action) must name it
const appPort = await freePort();
const appUrl = `http://127.0.0.1:${appPort}`;

describe('the tracking snippet in a real Chromium page', () => {
  const env = useTestEnv({
    PUBLIC_URL: appUrl,
    RATE_LIMIT_TRACKING: '10000',
    RATE_LIMIT_PUBLIC: '10000',
    TRACKING_DOMAINS: 'localhost',
  });
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
  let app: http.Server;
  let site: http.Server;
  let siteUrl = '';
  let browser: Browser;

  beforeAll(async () => {
    app = env.app.listen(appPort, '127.0.0.1');
    await new Promise((r) => app.once('listening', r));
    // scoring: the same worker as in production, and a rule that values a pricing-page view
    runWorker('scoring', scoringProcessor(env.rt), workerOptions(env.rt, 2));
    await putRules(env, {
      rules: [
        { id: 'pricing', event: 'page_view', where: { path: '/landing' }, points: 10 },
        { id: 'any-page', event: 'page_view', points: 1 },
      ],
    });
    const form = await env
      .http()
      .put('/api/forms/demo')
      .set(auth)
      .send({ name: 'Demo request', source: 'Website' });
    expect(form.status).toBe(200);
    const embed = form.body.embed as string;
    // the marketing site: another origin, pasting the snippet in <head> and the form embed in <body>
    site = http.createServer((req, res) => {
      if (!req.url?.startsWith('/landing')) return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(`<!doctype html>
<html><head><meta charset="utf-8"><title>Spring pricing</title>
${pasteSnippet(appUrl)}
</head><body><h1>Pricing</h1>
${embed}
</body></html>`);
    });
    site.listen(0, '127.0.0.1');
    await new Promise((r) => site.once('listening', r));
    // another host name than the app's, so cookies of the two sites are apart (cookies ignore ports)
    siteUrl = `http://localhost:${(site.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => site?.close(r));
    await new Promise((r) => app?.close(r));
  });

  /** A browser context whose requests to leadflow are counted. */
  async function visit(ctx: BrowserContext, path: string) {
    const page = await ctx.newPage();
    const toApp: string[] = [];
    page.on('request', (r) => {
      if (r.url().startsWith(appUrl)) toApp.push(`${r.method()} ${new URL(r.url()).pathname}`);
    });
    await page.goto(`${siteUrl}${path}`);
    return { page, toApp };
  }

  it('when a visitor views the page and then submits the form, then the page view is attached to the new lead with its campaign and scores', async () => {
    const ctx = await browser.newContext();
    const { page } = await visit(
      ctx,
      '/landing?utm_source=google&utm_medium=cpc&utm_campaign=spring&email=x@y.z',
    );

    // the snippet minted a visitor id, kept it first-party on the site, and sent the page view
    const cookie = await waitFor(async () => (await ctx.cookies(siteUrl)).find((c) => c.name === 'lf_vid'), {
      what: 'the lf_vid cookie on the site',
    });
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
    expect(await ctx.cookies(appUrl)).toEqual([]);
    const visitor = cookie.value.split('.')[0]!;
    await waitFor(() => AnonymousVisit.countDocuments({ visitor }), { what: 'the anonymous page view' });

    await page.fill('input[name="email"]', 'browser.visitor@example.com');
    await page.fill('input[name="firstName"]', 'Bea');
    await page.click('button[type="submit"]');
    await page.getByText('Thank you!').waitFor();

    const lead = await waitFor(() => Lead.findOne({ emailKey: 'browser.visitor@example.com' }).lean(), {
      what: 'the lead',
    });
    const pv = await waitFor(() => LeadEvent.findOne({ leadId: lead._id, type: 'page_view' }).lean(), {
      what: 'the page view on the lead',
    });
    expect(pv.properties).toMatchObject({
      path: '/landing',
      title: 'Spring pricing',
      utm_source: 'google',
      utm_campaign: 'spring',
      anonymous: true,
    });
    // the query string's other parameters never left the browser
    expect(JSON.stringify(pv.properties)).not.toContain('x@y.z');
    // the anonymous page view scores under the page_view rules: 10 + 1
    await waitForScore(String(lead._id), 11);
    const shown = await env
      .http()
      .get(`/api/leads/${String(lead._id)}`)
      .set(auth);
    expect(shown.body.attribution.firstTouch).toMatchObject({
      utm_source: 'google',
      utm_medium: 'cpc',
      utm_campaign: 'spring',
      landingPage: `${siteUrl}/landing`,
    });
    expect(shown.body.attributes).toEqual({});

    // the next page view of the same browser goes straight to the lead
    await page.goto(`${siteUrl}/landing/next`);
    await waitFor(
      () =>
        LeadEvent.findOne({ leadId: lead._id, type: 'page_view', 'properties.path': '/landing/next' }).lean(),
      { what: 'the identified page view' },
    );
    await ctx.close();
  });

  it('when a lead follows a tracked email link to the site, then the browser becomes known as the lead and lf_t leaves the address bar', async () => {
    const created = await env.http().post('/api/leads').set(auth).send({ email: 'mail.reader@example.com' });
    const leadId = created.body.id as string;
    const send = await EmailSend.create({
      sendKey: `e2e:${leadId}`,
      leadId: new Types.ObjectId(leadId),
      content: { subject: 'March news' },
      status: 'sent',
    });
    const url = `${siteUrl}/landing?utm_source=newsletter&utm_campaign=march`;
    const token = signToken(env.rt.trackingSecret, { kind: 'click', sendId: String(send._id), url });
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${appUrl}/t/c/${token}`);

    const pv = await waitFor(() => LeadEvent.findOne({ leadId, type: 'page_view' }).lean(), {
      what: 'the page view on the lead',
    });
    expect(pv.properties).toMatchObject({ path: '/landing', utm_campaign: 'march' });
    expect(pv.properties).not.toHaveProperty('anonymous');
    expect(page.url()).toBe(url);
    const cookie = (await ctx.cookies(siteUrl)).find((c) => c.name === 'lf_vid')!;
    const bound = await TrackedVisitor.findById(cookie.value.split('.')[0]).lean();
    expect(bound).toMatchObject({ via: 'email_click' });
    expect(String(bound!.leadId)).toBe(leadId);
    await waitFor(async () => (await Lead.findById(leadId).lean())?.attribution, { what: 'the attribution' });
    await ctx.close();
  });

  for (const [name, init] of [
    [
      'Global Privacy Control',
      "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true })",
    ],
    ['Do Not Track', "Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' })"],
  ] as const) {
    it(`when the browser sends ${name}, then the snippet sends and stores nothing`, async () => {
      const ctx = await browser.newContext();
      await ctx.addInitScript(init);
      const { page, toApp } = await visit(ctx, '/landing?utm_source=private');
      await page.waitForLoadState('networkidle');
      expect(toApp).toContain('GET /t/js');
      expect(toApp.filter((r) => r.includes('/t/v') || r.includes('/t/e'))).toEqual([]);
      expect((await ctx.cookies(siteUrl)).map((c) => c.name)).not.toContain('lf_vid');
      expect(
        await page.evaluate("[localStorage.getItem('lf_vid'), localStorage.getItem('lf_attr')]"),
      ).toEqual([null, null]);
      await ctx.close();
    });
  }
});
