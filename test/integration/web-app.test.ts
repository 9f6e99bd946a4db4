import { browser } from '../helpers/web.js';
import { describe, expect, it } from 'vitest';
import { ApiKey } from '../../src/modules/admin/api-key.model.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';

describe('web app: sign-in, sessions, CSRF, roles, escaping', () => {
  const env = useTestEnv();
  const api = (method: 'post' | 'patch' | 'put', path: string, body: object) =>
    env.http()[method](path).set('Authorization', `Bearer ${ADMIN_KEY}`).send(body);

  it('when no session asks for a page, then it is sent to the login page; / goes to /app', async () => {
    const root = await env.http().get('/');
    expect(root.status).toBe(302);
    expect(root.headers.location).toBe('/app');
    const res = await env.http().get('/app/leads?q=x');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/app/login?next=%2Fapp%2Fleads%3Fq%3Dx');
  });

  it('when a wrong key is given, then an error shows and no session cookie is set', async () => {
    const b = browser(env.app);
    const res = await b.signIn('lf_not-a-real-key-0000000000');
    expect(res.status).toBe(401);
    expect(res.text).toContain('That key is not valid');
    expect(String(res.headers['set-cookie'] ?? '')).not.toContain('lf_session=');
  });

  it('when the right key is given, then an http-only SameSite=Lax session opens the dashboard', async () => {
    const b = browser(env.app);
    const res = await b.signIn(ADMIN_KEY);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/app');
    const cookie = ([] as string[])
      .concat(res.headers['set-cookie'] ?? [])
      .find((c) => c.startsWith('lf_session='));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    const dash = await b.get('/app');
    expect(dash.status).toBe(200);
    expect(dash.text).toContain('<svg class="chart"');
    expect(dash.text).toContain('Time in stage');
    const csp = String(dash.headers['content-security-policy']);
    const scriptSrc = csp.split(';').find((d) => d.startsWith('script-src '));
    expect(scriptSrc).toBe("script-src 'self'");
    expect(csp).toContain("script-src-attr 'none'");
  });

  it('when a POST carries no CSRF token, then it is refused with 403 and changes nothing', async () => {
    const b = browser(env.app);
    await b.signIn(ADMIN_KEY);
    await b.get('/app/keys');
    const before = await ApiKey.countDocuments();
    const res = await b.post('/app/keys', { name: 'sneaky', role: 'admin' }, false);
    expect(res.status).toBe(403);
    expect(await ApiKey.countDocuments()).toBe(before);
    const forged = await b.post('/app/keys', { name: 'sneaky', role: 'admin', _csrf: 'forged|token' }, false);
    expect(forged.status).toBe(403);
    expect(await ApiKey.countDocuments()).toBe(before);
    const ok = await b.post('/app/keys', { name: 'made in the app', role: 'sales' });
    expect(ok.status).toBe(201);
    expect(ok.text).toMatch(/lf_[A-Za-z0-9_-]{20,}/);
    expect(await ApiKey.countDocuments()).toBe(before + 1);
  });

  it('when the key is revoked or the user signs out, then the session ends', async () => {
    const key = await env.keyFor('marketing');
    const b = browser(env.app);
    expect((await b.signIn(key)).status).toBe(303);
    expect((await b.get('/app/leads')).status).toBe(200);
    await ApiKey.updateOne({ prefix: key.slice(0, 8) }, { $set: { revokedAt: new Date() } });
    expect((await b.get('/app/leads')).status).toBe(303);

    const c = browser(env.app);
    await c.signIn(ADMIN_KEY);
    await c.get('/app');
    expect((await c.post('/app/logout', {})).status).toBe(303);
    expect((await c.get('/app')).status).toBe(303);
  });

  it('when a lead holds HTML in a custom field, then its page shows it as text', async () => {
    const lead = await api('post', '/api/leads', {
      email: 'xss@example.com',
      firstName: 'Eve',
      attributes: { note: '<img src=x onerror=alert(1)>' },
    });
    expect(lead.status).toBe(201);
    const b = browser(env.app);
    await b.signIn(ADMIN_KEY);
    const page = await b.get(`/app/leads/${lead.body.id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    expect(page.text).not.toContain('<img src=x');
  });

  it('when leads are searched, then the start of a name, email or company matches', async () => {
    await api('post', '/api/leads', {
      email: 'ada@analytical.example',
      firstName: 'Ada',
      lastName: 'Lovelace',
      company: 'Analytical Engines',
    });
    await api('post', '/api/leads', {
      email: 'grace@navy.example',
      firstName: 'Grace',
      lastName: 'Hopper',
      company: 'Navy',
    });
    const b = browser(env.app);
    await b.signIn(ADMIN_KEY);
    const byName = await b.get('/app/leads?q=Lovel');
    expect(byName.text).toContain('ada@analytical.example');
    expect(byName.text).not.toContain('grace@navy.example');
    const byCompany = await b.get('/app/leads?q=navy');
    expect(byCompany.text).toContain('grace@navy.example');
    const middle = await b.get('/app/leads?q=velace');
    expect(middle.text).not.toContain('ada@analytical.example');
    const bad = await b.get('/app/leads?staus=open');
    expect(bad.status).toBe(400);
  });

  it('when marketing assigns leads from the owner menu, then the list shows and filters by the rep by name', async () => {
    expect(
      (await api('put', '/api/reps/rep-owner', { name: 'Olga Owner', email: 'olga@sales.example' })).status,
    ).toBe(200);
    expect(
      (await api('put', '/api/reps/rep-gone', { name: 'Gone Rep', email: 'g@sales.example', active: false }))
        .status,
    ).toBe(200);
    const lead = await api('post', '/api/leads', { email: 'owned@assign.example', firstName: 'Owen' });
    expect(lead.status).toBe(201);
    const b = browser(env.app);
    await b.signIn(await env.keyFor('marketing'));
    const list = await b.get('/app/leads');
    // the menu offers active reps by name, not a box for an id; an inactive rep is not offered
    expect(list.text).toContain('<option value="rep-owner">Olga Owner</option>');
    expect(list.text).not.toContain('<option value="rep-gone">');
    const res = await b.post('/app/leads/bulk', {
      action: 'assign',
      ids: lead.body.id,
      assignTo: 'rep-owner',
    });
    expect(res.status).toBe(303);
    // Assign with no owner chosen changes nothing; "no owner" is a choice of its own
    const none = await b.post('/app/leads/bulk', { action: 'assign', ids: lead.body.id, assignTo: '' });
    expect(none.status).toBe(400);
    expect(none.text).toContain('choose an owner');
    const mine = await b.get('/app/leads?ownerId=rep-owner');
    expect(mine.text).toContain('owned@assign.example');
    expect(mine.text).toContain('<span title="rep-owner">Olga Owner</span>');
    expect(mine.text).toContain('<option value="rep-owner" selected>Olga Owner</option>');
    // a filter on an inactive rep still shows whom it is on
    const gone = await b.get('/app/leads?ownerId=rep-gone');
    expect(gone.text).toContain('<option value="rep-gone" selected>Gone Rep</option>');
    expect(gone.text).not.toContain('owned@assign.example');
    expect(
      (await b.post('/app/leads/bulk', { action: 'assign', ids: lead.body.id, assignTo: 'none' })).status,
    ).toBe(303);
    const unowned = await env
      .http()
      .get(`/api/leads/${lead.body.id}`)
      .set('Authorization', `Bearer ${ADMIN_KEY}`);
    expect(unowned.body.ownerId).toBeNull();
  });

  it('when a sales key signs in, then operations pages are refused and bulk changes are forbidden', async () => {
    const key = await env.keyFor('sales');
    const b = browser(env.app);
    await b.signIn(key);
    expect((await b.get('/app/outbox')).status).toBe(403);
    expect((await b.get('/app/keys')).status).toBe(403);
    const leads = await b.get('/app/leads');
    expect(leads.status).toBe(200);
    expect(leads.text).not.toContain('Assign owner');
    const res = await b.post('/app/leads/bulk', { action: 'assign', scope: 'filter', assignTo: 'rep-1' });
    expect(res.status).toBe(403);
  });

  it('when a sequence definition is typed, then it is validated with the API schema and saved as a version', async () => {
    const b = browser(env.app);
    await b.signIn(ADMIN_KEY);
    await b.get('/app/sequences/new');
    const bad = await b.post('/app/sequences/validate', { definition: '{"name": "x", "steps": []}' });
    expect(bad.status).toBe(200);
    expect(bad.text).toContain('<code>steps</code>');
    const def = {
      name: 'Web welcome',
      steps: [
        {
          id: 'hello',
          wait: '0s',
          subject: 'Hi {{lead.firstName}}',
          html: '<p>Hello {{lead.firstName}}</p>',
        },
      ],
    };
    const ok = await b.post('/app/sequences/validate', { definition: JSON.stringify(def) });
    expect(ok.text).toContain('Valid sequence definition');
    const saved = await b.post('/app/sequences/save', {
      key: 'web-welcome',
      definition: JSON.stringify(def),
    });
    expect(saved.status).toBe(303);
    const seq = await env
      .http()
      .get('/api/sequences/web-welcome')
      .set('Authorization', `Bearer ${ADMIN_KEY}`);
    expect(seq.body).toMatchObject({ key: 'web-welcome', version: 1, name: 'Web welcome' });
    const preview = await b.post('/app/sequences/web-welcome/preview', { definition: '', leadEmail: '' });
    expect(preview.status).toBe(200);
    expect(preview.text).toContain('srcdoc=');
  });
});
