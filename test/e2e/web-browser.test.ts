import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../src/modules/admin/api-key.model.js';
import { EmailSend } from '../../src/modules/email/index.js';
import { Handoff } from '../../src/modules/handoff/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { startWorkers } from '../../workers/all.js';
import { desktop, launchChromium, screenshot, signIn } from '../helpers/browser.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { freePort } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { seedPeople, seedSetup } from '../helpers/web-scenario.js';

// the app listens on a real port, and its PUBLIC_URL (the embed's form action) must name it
const appPort = await freePort();
const appUrl = `http://127.0.0.1:${appPort}`;

describe('the web app in a real Chromium', { timeout: 60_000 }, () => {
  const env = useTestEnv({
    PUBLIC_URL: appUrl,
    RATE_LIMIT_PUBLIC: '10000',
    RATE_LIMIT_TRACKING: '10000',
    TRACKING_DOMAINS: 'localhost',
  });
  let app: http.Server;
  let site: http.Server;
  let siteUrl = '';
  /** what the marketer pasted into the site's page (the form's embed snippet) */
  let pasted = '<p>nothing pasted yet</p>';
  let browser: Browser;
  let marketingCtx: BrowserContext;
  let m: Page;
  let keys: { marketing: string; salesKey: string };
  let ids: Map<string, string>;

  beforeAll(async () => {
    app = env.app.listen(appPort, '127.0.0.1');
    await new Promise((r) => app.once('listening', r));
    startWorkers(env.rt);
    keys = await seedSetup(env);
    ids = await seedPeople(env, keys.marketing);
    // Ada, Grace and Alan cross the threshold with a budget: qualified, converted, assigned
    await waitFor(async () => (await Handoff.countDocuments({ ownerId: { $ne: null } })) >= 3, {
      timeout: 30_000,
      what: 'three assigned handoffs',
    });
    // the marketing site: another host name than the app's, serving whatever was pasted
    site = http.createServer((req, res) => {
      if (!req.url?.startsWith('/landing')) return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(`<!doctype html>
<html><head><meta charset="utf-8"><title>Book a demo</title></head>
<body><h1>Book a demo</h1>
${pasted}
</body></html>`);
    });
    site.listen(0, '127.0.0.1');
    await new Promise((r) => site.once('listening', r));
    siteUrl = `http://localhost:${(site.address() as AddressInfo).port}`;
    browser = await launchChromium();
    marketingCtx = await desktop(browser);
    await marketingCtx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: appUrl });
    m = await marketingCtx.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    for (const server of [site, app]) {
      if (!server) continue;
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('when a marketer signs in with a key, then the dashboard shows the funnel; a wrong key shows an error', async () => {
    await m.goto(`${appUrl}/app/leads`);
    expect(new URL(m.url()).pathname).toBe('/app/login');
    await screenshot(m, 'login');
    await m.fill('input[name="key"]', 'lf_wrong-key-000000000000');
    await m.click('button[type="submit"]');
    await m.getByRole('alert').getByText('That key is not valid').waitFor();
    expect((await marketingCtx.cookies(appUrl)).map((c) => c.name)).not.toContain('lf_session');

    await signIn(m, appUrl, keys.marketing);
    const session = (await marketingCtx.cookies(appUrl)).find((c) => c.name === 'lf_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    await m.getByRole('heading', { name: 'Dashboard' }).waitFor();
    const chart = m.locator('svg.chart');
    await chart.waitFor();
    for (const stage of ['Leads', 'MQLs', 'SQLs', 'Opportunities', 'Customers'])
      expect(await chart.textContent()).toContain(stage);
    await m.getByRole('heading', { name: 'Time in stage' }).waitFor();
    await screenshot(m, 'dashboard');
  });

  it('when the marketer types the start of a name in the search, then the list narrows to that lead, and its page shows timeline, score ledger and attribution', async () => {
    await m.goto(`${appUrl}/app/leads`);
    const rows = m.locator('#lead-results tbody tr');
    await waitFor(async () => (await rows.count()) >= 9, { what: 'every lead listed' });
    await screenshot(m, 'leads');
    await m.fill('input[name="q"]', 'Lovel');
    await waitFor(async () => (await rows.count()) === 1, { what: 'the search to narrow the list' });
    await m.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
    expect(new URL(m.url()).searchParams.get('q')).toBe('Lovel');

    await m.getByRole('link', { name: 'Ada Lovelace' }).click();
    await m.waitForURL(`${appUrl}/app/leads/${ids.get('ada@analytical.example')}`);
    await m.getByRole('heading', { name: 'Ada Lovelace', level: 1 }).waitFor();
    const stored = (await Lead.findById(ids.get('ada@analytical.example')).lean())!;
    await m.locator('.stat .value').first().getByText(String(stored.score), { exact: true }).waitFor();
    const timeline = m.locator('#timeline');
    await timeline.getByText('webinar attended').first().waitFor();
    await timeline.getByText('demo requested').first().waitFor();
    const ledger = m.locator('#score table');
    // every rule that gave points is a line of the ledger, and the lines add up to the score
    const points = (await ledger.locator('td.num').allTextContents()).map(Number);
    expect(points.reduce((a, b) => a + b, 0)).toBe(stored.score);
    expect(await ledger.textContent()).toMatch(/webinar/i);
    await screenshot(m, 'lead');
  });

  it('when a marketer writes a sequence in the JSON editor, then it is checked as they type, saved, and previewed for a chosen lead', async () => {
    await m.goto(`${appUrl}/app/sequences`);
    await m.getByRole('link', { name: 'Welcome series' }).waitFor();
    await screenshot(m, 'sequences');
    await m.getByRole('link', { name: 'New sequence' }).click();
    await m.fill('input[name="key"]', 'trial-nurture');
    const editor = m.locator('textarea#definition');
    const check = m.locator('#check');
    await editor.fill('{"name": "Trial nurture", "steps": [');
    await check.locator('.errors').getByText('(json)').waitFor();
    const definition = {
      name: 'Trial nurture',
      steps: [{ id: 'day-1', wait: 'soon', subject: 'Hi {{lead.firstName}}', html: '<p>Hello</p>' }],
    };
    await editor.fill(JSON.stringify(definition, null, 2));
    await check.getByText('steps.0.wait').waitFor();
    definition.steps[0]!.wait = '0s';
    definition.steps.push({
      id: 'day-3',
      wait: '2d',
      subject: 'How {{lead.company}} can start',
      html: '<p>{{lead.firstName}}, three tips for {{lead.company}}.</p>',
    });
    await editor.fill(JSON.stringify(definition, null, 2));
    await check.getByText('Valid sequence definition').waitFor();
    await m.getByRole('button', { name: 'Save new version' }).click();
    await m.waitForURL(/\/app\/sequences\/trial-nurture/);

    await m.fill('input[name="leadEmail"]', 'grace@cobol.example');
    await m.getByRole('button', { name: 'Preview every step' }).click();
    await m.locator('#preview').getByText('Hi Grace').waitFor();
    await m.locator('#preview').getByText('How Cobol Systems can start').waitFor();
    // every step's preview shows its email, the first as well as the later ones
    await m.frameLocator('#preview iframe').nth(0).getByText('Hello').waitFor();
    // every step's preview shows its email, the first as well as the later ones
    await m.frameLocator('#preview iframe').nth(0).getByText('Hello').waitFor();
    const frame = m.frameLocator('#preview iframe').nth(1);
    await frame.getByText('Grace, three tips for Cobol Systems.').waitFor();
    await screenshot(m, 'sequence-editor');
  });

  it('when the form snippet is copied into a page on another site and submitted there, then the new lead appears in the leads list with its campaign', async () => {
    await m.goto(`${appUrl}/app/forms`);
    await m.getByRole('link', { name: 'Demo request' }).click();
    await m.getByRole('heading', { name: 'Demo request' }).waitFor();
    await m.getByRole('button', { name: 'Copy' }).click();
    await m.getByRole('button', { name: 'Copied' }).waitFor();
    pasted = await m.evaluate<string>('navigator.clipboard.readText()');
    expect(pasted).toBe(await m.locator('textarea#embed').inputValue());
    expect(pasted).toContain(`action="${appUrl}/f/demo-request"`);

    const visitor = await browser.newContext();
    const p = await visitor.newPage();
    await p.goto(`${siteUrl}/landing?utm_source=linkedin&utm_medium=paid-social&utm_campaign=q3-launch`);
    await p.fill('input[name="email"]', 'joan.clarke@hut8.example');
    await p.fill('input[name="firstName"]', 'Joan');
    await p.fill('input[name="lastName"]', 'Clarke');
    await p.fill('input[name="company"]', 'Hut 8 Analytics');
    await p.fill('input[name="budget"]', '25k');
    await p.click('button[type="submit"]');
    await p.getByText('Thank you!').waitFor();
    await visitor.close();

    await m.goto(`${appUrl}/app/leads`);
    await m.fill('input[name="q"]', 'joan.cl');
    await m.getByRole('link', { name: 'Joan Clarke' }).click();
    await m.getByRole('heading', { name: 'Joan Clarke', level: 1 }).waitFor();
    const attribution = m.locator('#attribution');
    await attribution.getByText('linkedin').first().waitFor();
    await attribution.getByText('q3-launch').first().waitFor();
    await attribution.getByText(`${siteUrl}/landing`).first().waitFor();
    await m.locator('#timeline').getByText('Form submission').first().waitFor();
    await screenshot(m, 'lead-from-campaign');
  });

  it('when the marketer sends the live test submission on the form page, then it goes through the public endpoint and links to the new lead', async () => {
    await m.goto(`${appUrl}/app/forms/demo-request`);
    const panel = m.locator('#test-submission');
    await panel.locator('input[name="email"]').fill('panel.test@example.com');
    await panel.locator('input[name="firstName"]').fill('Pat');
    await panel.locator('input[name="company"]').fill('Test Rig Inc');
    await panel.getByRole('button', { name: 'Send test submission' }).click();
    await panel.getByText('Created a new lead').waitFor();
    await screenshot(m, 'form');
    await panel.getByRole('link', { name: 'Open the lead →' }).click();
    await m.getByRole('heading', { name: /^Pat\b/, level: 1 }).waitFor();
    expect(await Lead.countDocuments({ emailKey: 'panel.test@example.com' })).toBe(1);
    // the same address again merges into that lead
    await m.goBack();
    await panel.locator('input[name="email"]').fill('panel.test@example.com');
    await panel.getByRole('button', { name: 'Send test submission' }).click();
    await panel.getByText('Merged into an existing lead').waitFor();
    await m.goto(`${appUrl}/app/forms`);
    await screenshot(m, 'forms');
  });

  it('when a lead’s custom field holds an <img onerror> payload, then its page shows it as text and no script runs', async () => {
    const dialogs: string[] = [];
    m.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await m.goto(`${appUrl}/app/leads/${ids.get('mallory@hostile.example')}`);
    await m.getByText('<img src=x onerror=alert(1)>', { exact: true }).waitFor();
    expect(await m.locator('img[src="x"]').count()).toBe(0);
    await m.goto(`${appUrl}/app/leads?q=mallory`);
    await m.getByRole('link', { name: 'Mallory Hacker' }).waitFor();
    expect(dialogs).toEqual([]);
  });

  it('when the scoring page is opened, then the rules, the agreement and its version history show', async () => {
    await m.goto(`${appUrl}/app/scoring`);
    await m.getByRole('heading', { name: /Qualification agreement/ }).waitFor();
    await m.getByText('Maya Chen (marketing)').waitFor();
    await screenshot(m, 'scoring');
  });

  it('when a POST carries no CSRF token, then the signed-in browser is refused with 403 and nothing changes', async () => {
    const admin = await desktop(browser);
    const a = await admin.newPage();
    await signIn(a, appUrl, ADMIN_KEY);
    await a.goto(`${appUrl}/app/keys`);
    const before = await ApiKey.countDocuments();
    // a script in the signed-in page posts the form with and without the page's token
    const post = (withToken: boolean) =>
      a.evaluate(`(async () => {
        const body = new URLSearchParams({ name: 'made by a script', role: 'admin' });
        if (${withToken}) body.set('_csrf', document.querySelector('meta[name="csrf-token"]').content);
        return (await fetch('/app/keys', { method: 'POST', body, redirect: 'manual' })).status;
      })()`);
    expect(await post(false)).toBe(403);
    expect(await ApiKey.countDocuments()).toBe(before);
    // the same request with the page's token goes through: the token is what was missing
    expect(await post(true)).toBe(201);
    expect(await ApiKey.countDocuments()).toBe(before + 1);
    await a.goto(`${appUrl}/app/keys`);
    await screenshot(a, 'keys');
    // the welcome emails of the two form leads, as they would arrive
    await waitFor(
      async () => {
        await a.goto(`${appUrl}/app/outbox`);
        return (await a.getByText('Welcome to Acme Analytics, Joan').count()) > 0;
      },
      { timeout: 20_000, interval: 500, what: 'the welcome email in the outbox' },
    );
    // the open message's preview shows the email as sent (screenshot() waits for it to lay out)
    await a.frameLocator('iframe.mail').first().getByText('Thanks for your interest').waitFor();
    await screenshot(a, 'outbox');
    // reading the outbox (the browser loaded every preview's images) is not the recipient opening it
    expect(await EmailSend.countDocuments({ openedAt: { $ne: null } })).toBe(0);
    await admin.close();
  });

  it('when a sales rep signs in, then the inbox lists their handoffs first and Accept takes one', async () => {
    const sales = await desktop(browser);
    const s = await sales.newPage();
    await signIn(s, appUrl, keys.salesKey);
    await s.goto(`${appUrl}/app/handoffs`);
    const cards = s.locator('section.handoff');
    await waitFor(async () => (await cards.count()) >= 3, { what: 'three pending handoffs' });
    await screenshot(s, 'handoffs');
    // this rep's own handoffs (Ada, Alan: GB) come before the team's (Grace: US, rep-ben)
    expect(await cards.last().textContent()).toContain('Grace Hopper');
    const ada = cards.filter({ hasText: 'Ada Lovelace' });
    await ada.getByText(/SLA .* left/).waitFor();
    await ada.getByRole('button', { name: 'Accept' }).click();
    await s.getByRole('status').getByText('Handoff accepted').waitFor();
    const handoff = (await Handoff.findOne({ leadId: ids.get('ada@analytical.example') }).lean())!;
    expect(handoff.status).toBe('accepted');
    expect(await cards.filter({ hasText: 'Ada Lovelace' }).count()).toBe(0);

    await s.goto(`${appUrl}/app/opportunities`);
    await s.getByText('Analytical Engines').first().waitFor();
    await screenshot(s, 'opportunities');
    await sales.close();
  });

  it('when the pages are shown in dark mode, then they use the dark palette', async () => {
    const dark = await desktop(browser, { dark: true });
    const d = await dark.newPage();
    await signIn(d, appUrl, keys.marketing);
    const bg = await d.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(bg).not.toBe('rgb(255, 255, 255)');
    await screenshot(d, 'dashboard-dark');
    await d.goto(`${appUrl}/app/leads/${ids.get('ada@analytical.example')}`);
    await screenshot(d, 'lead-dark');
    await dark.close();
  });
});
