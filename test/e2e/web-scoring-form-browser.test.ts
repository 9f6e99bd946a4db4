import http from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { desktop, launchChromium, screenshot, signIn } from '../helpers/browser.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { freePort } from '../helpers/processes.js';

const appPort = await freePort();
const appUrl = `http://127.0.0.1:${appPort}`;

describe('the scoring rules form in a real Chromium', { timeout: 60_000 }, () => {
  const env = useTestEnv({ PUBLIC_URL: appUrl });
  let app: http.Server;
  let browser: Browser;
  let m: Page;
  const api = async () =>
    (await env.http().get('/api/scoring').set('Authorization', `Bearer ${ADMIN_KEY}`)).body;

  beforeAll(async () => {
    app = env.app.listen(appPort, '127.0.0.1');
    await new Promise((r) => app.once('listening', r));
    const put = (path: string, body: object) =>
      env.http().put(path).set('Authorization', `Bearer ${ADMIN_KEY}`).send(body);
    expect(
      (
        await put('/api/scoring', {
          rules: [
            { id: 'pricing', event: 'page_view', where: { path: '/pricing' }, points: 15, maxPerDay: 2 },
            { id: 'webinar', event: 'webinar_attended', points: 25 },
            { id: 'demo', event: 'demo_requested', points: 40, maxTotal: 1 },
            {
              id: 'download',
              event: 'whitepaper_download',
              where: { asset: 'roi-guide', gated: true },
              points: 10,
            },
          ],
          fit: [
            { id: 'senior', field: 'title', matches: '(CTO|CEO|VP|Head|Director)', points: 20 },
            { id: 'market', field: 'country', in: ['US', 'GB', 'DE', 'ES'], points: 10 },
            { id: 'saas', field: 'attributes.industry', equals: 'SaaS', points: 5 },
          ],
          decay: { halfLife: '30d' },
        })
      ).status,
    ).toBe(200);
    await put('/api/qualification', {
      threshold: 60,
      require: { budget: true },
      slaHours: 24,
      agreedBy: { marketing: 'Maya Chen', sales: 'Sam Ortiz' },
    });
    browser = await launchChromium();
    m = await (await desktop(browser)).newPage();
    await signIn(m, appUrl, await env.keyFor('marketing'));
  });
  afterAll(async () => {
    await browser?.close();
    app?.closeAllConnections();
    await new Promise((r) => app?.close(r));
  });

  it('when a marketer adds a rule in an empty row and saves, then the new version has it', async () => {
    await m.goto(`${appUrl}/app/scoring`);
    await m.getByRole('heading', { name: /Engagement rules/ }).waitFor();
    await screenshot(m, 'scoring-form');
    await m.getByLabel('Rule 5: id', { exact: true }).fill('trial');
    await m.getByLabel('Rule 5: event type', { exact: true }).fill('trial_started');
    await m.getByLabel('Rule 5: conditions', { exact: true }).fill('plan = pro\nseats = 5');
    await m.getByLabel('Rule 5: points', { exact: true }).fill('30');
    await m.getByLabel('Fit rule 4: id', { exact: true }).fill('size');
    await m.getByLabel('Fit rule 4: field', { exact: true }).selectOption('attributes');
    await m.getByLabel('Fit rule 4: custom attribute name', { exact: true }).fill('employees');
    await m.getByLabel('Fit rule 4: test', { exact: true }).selectOption('in');
    await m.getByLabel('Fit rule 4: value', { exact: true }).fill('50, 200, "1,000"');
    await m.getByLabel('Fit rule 4: points', { exact: true }).fill('5');
    await Promise.all([
      m.waitForURL(/saved=1/),
      m.getByRole('button', { name: 'Save new version' }).first().click(),
    ]);
    await m.getByText('Saved a new version').waitFor();
    const v = await api();
    expect(v.version).toBe(2);
    expect(v.rules[4]).toEqual({
      id: 'trial',
      event: 'trial_started',
      where: { plan: 'pro', seats: 5 },
      points: 30,
    });
    expect(v.fit[3]).toEqual({
      id: 'size',
      field: 'attributes.employees',
      in: [50, 200, '1,000'],
      points: 5,
    });
    expect(v.rules.slice(0, 4).map((r: { id: string }) => r.id)).toEqual([
      'pricing',
      'webinar',
      'demo',
      'download',
    ]);
  });

  it('when a row is wrong, then the page names it and marks the box, and nothing is saved', async () => {
    await m.getByLabel('Rule 1: points', { exact: true }).fill('lots');
    await m.getByLabel('Rule 2: conditions', { exact: true }).fill('$gt = 1');
    await m.getByRole('button', { name: 'Save new version' }).first().click();
    await m.getByText('Nothing was saved').waitFor();
    await m.getByText('Rule 1 (pricing): points must be a number (you typed “lots”)').waitFor();
    expect(await m.getByLabel('Rule 1: points', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await m.getByLabel('Rule 1: points', { exact: true }).inputValue()).toBe('lots');
    expect(await m.getByLabel('Rule 2: conditions', { exact: true }).getAttribute('aria-invalid')).toBe(
      'true',
    );
    await screenshot(m, 'scoring-form-error');
    expect((await api()).version).toBe(2);
  });
  it('when a sales rep opens scoring, then the rules read as tables with no inputs', async () => {
    const ctx = await desktop(browser);
    const s = await ctx.newPage();
    await signIn(s, appUrl, await env.keyFor('sales'));
    await s.goto(`${appUrl}/app/scoring`);
    await s.getByText('Read only: a sales key cannot change the rules.').waitFor();
    expect(await s.locator('input[name^="rule_"], input[name^="fit_"], textarea').count()).toBe(0);
    await s.getByRole('cell', { name: 'trial_started' }).waitFor();
    await screenshot(s, 'scoring-sales');
    await ctx.close();
  });
});
