import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { browser } from '../helpers/web.js';

describe('web app: scoring page', () => {
  const env = useTestEnv();
  const rules = (points: number) =>
    JSON.stringify({ rules: [{ id: 'pricing', event: 'page_view', where: { path: '/pricing' }, points }] });

  it('when marketing saves rules, then a new version is kept and the change from the last one is shown', async () => {
    const b = browser(env.app);
    await b.signIn(ADMIN_KEY);
    await b.get('/app/scoring');
    expect((await b.post('/app/scoring', { rules: rules(5) })).status).toBe(303);
    await b.get('/app/scoring');
    expect((await b.post('/app/scoring', { rules: rules(15) })).status).toBe(303);
    const page = await b.get('/app/scoring');
    expect(page.status).toBe(200);
    expect(page.text).toContain('v2');
    expect(page.text).toMatch(/diff-removed">- +&quot;points&quot;: 5/);
    expect(page.text).toMatch(/diff-added">\+ +&quot;points&quot;: 15/);
    const api = await env.http().get('/api/scoring?version=1').set('Authorization', `Bearer ${ADMIN_KEY}`);
    expect(api.body.rules[0].points).toBe(5);
  });

  it('when the rules are not valid, then the page names the problem and saves nothing', async () => {
    const b = browser(env.app);
    await b.signIn(ADMIN_KEY);
    await b.get('/app/scoring');
    const bad = await b.post('/app/scoring', {
      rules: JSON.stringify({ rules: [{ id: 'x', event: 'e', points: 'lots' }] }),
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('<code>rules.0.points</code>');
    const api = await env.http().get('/api/scoring').set('Authorization', `Bearer ${ADMIN_KEY}`);
    expect(api.body.version).toBe(2);
  });

  it('when a sales key opens scoring, then it reads the rules and cannot change them', async () => {
    const b = browser(env.app);
    await b.signIn(await env.keyFor('sales'));
    const page = await b.get('/app/scoring');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Read only');
    expect(page.text).not.toContain('<textarea name="rules"');
    expect((await b.post('/app/scoring', { rules: rules(99) })).status).toBe(403);
  });
});
