import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { browser } from '../helpers/web.js';

const unescape = (s: string) =>
  s
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#x27;', "'")
    .replaceAll('&#x60;', '`')
    .replaceAll('&#x3D;', '=')
    .replaceAll('&amp;', '&');

/** What a browser would post from the page's rules form, unchanged: every named input in order. */
function formFields(html: string): Record<string, string[]> {
  const form = /<form method="post" action="\/app\/scoring\/form"[^>]*>([\s\S]*?)<\/form>/.exec(html)?.[1];
  if (!form) throw new Error('the page has no rules form');
  const out: Record<string, string[]> = {};
  const add = (name: string, value: string) => (out[name] ??= []).push(unescape(value));
  const re =
    /<input name="([^"]+)" value="([^"]*)"|<textarea name="([^"]+)"[^>]*>([\s\S]*?)<\/textarea>|<select name="([^"]+)"[^>]*>([\s\S]*?)<\/select>/g;
  for (const m of form.matchAll(re)) {
    if (m[1]) add(m[1], m[2]!);
    else if (m[3]) add(m[3], m[4]!);
    else if (m[5]) {
      const selected =
        /<option value="([^"]*)" selected>/.exec(m[6]!) ?? /<option value="([^"]*)"/.exec(m[6]!);
      add(m[5], selected![1]!);
    }
  }
  delete out._csrf;
  return out;
}

const seeded = {
  rules: [
    {
      id: 'pricing',
      event: 'page_view',
      where: { path: '/pricing', plan: '5', vip: true },
      points: 15,
      maxPerDay: 2,
    },
    { id: 'webinar', event: 'webinar_attended', points: 25 },
    {
      id: 'demo',
      event: 'demo_requested',
      where: { note: 'a = "b", c', none: null },
      points: 40,
      maxTotal: 1,
    },
    { id: 'unsub', event: 'email_unsubscribe', points: -30 },
  ],
  fit: [
    { id: 'senior', field: 'title', matches: '(CTO|CEO|VP|Head|Director)', points: 20 },
    { id: 'market', field: 'country', in: ['US', 'GB', 'Acme, Inc', '5', 7], points: 10 },
    { id: 'saas', field: 'attributes.industry', equals: 'SaaS', points: 5 },
  ],
  decay: { halfLife: '30d' },
  cap: 250,
};

describe('web app: the scoring rules form', () => {
  const env = useTestEnv();
  const api = async (version?: number) =>
    (
      await env
        .http()
        .get(`/api/scoring${version ? `?version=${version}` : ''}`)
        .set('Authorization', `Bearer ${ADMIN_KEY}`)
    ).body;
  const rulesOf = (v: { rules: unknown; fit: unknown; decay: unknown; cap: unknown }) => ({
    rules: v.rules,
    fit: v.fit,
    decay: v.decay,
    cap: v.cap,
  });
  const marketer = async () => {
    const b = browser(env.app);
    await b.signIn(await env.keyFor('marketing'));
    return b;
  };

  it('when marketing fills in the empty rows and saves, then a new version holds exactly those rules', async () => {
    const b = await marketer();
    const page = await b.get('/app/scoring');
    expect(page.status).toBe(200);
    const fields = formFields(page.text);
    // a fresh install: three empty engagement rows, two empty fit rows
    expect(fields.rule_id).toEqual(['', '', '']);
    expect(fields.fit_id).toEqual(['', '']);
    const saved = await b.post('/app/scoring/form', {
      ...fields,
      rule_id: ['pricing', '', 'demo'],
      rule_event: ['page_view', '', 'demo_requested'],
      rule_where: ['path = /pricing\r\nplan = "5"', '', ''],
      rule_points: ['15', '', '40'],
      rule_maxPerDay: ['2', '', ''],
      rule_maxTotal: ['', '', '1'],
      fit_id: ['market', 'size'],
      fit_field: ['country', ''],
      fit_attribute: ['', 'employees'],
      fit_test: ['in', 'equals'],
      fit_value: ['US, GB, "Acme, Inc"', '50'],
      fit_points: ['10', '5'],
      halfLife: '30d',
      cap: '',
    });
    expect(saved.status).toBe(303);
    expect(saved.headers.location).toBe('/app/scoring?saved=1');
    const v = await api();
    expect(v.version).toBe(1);
    expect(rulesOf(v)).toEqual({
      rules: [
        {
          id: 'pricing',
          event: 'page_view',
          where: { path: '/pricing', plan: '5' },
          points: 15,
          maxPerDay: 2,
        },
        { id: 'demo', event: 'demo_requested', points: 40, maxTotal: 1 },
      ],
      fit: [
        { id: 'market', field: 'country', in: ['US', 'GB', 'Acme, Inc'], points: 10 },
        { id: 'size', field: 'attributes.employees', equals: 50, points: 5 },
      ],
      decay: { halfLife: '30d' },
      cap: null,
    });
  });

  it('when the current rule set is saved from the form unchanged, then the new version is identical', async () => {
    const put = await env.http().put('/api/scoring').set('Authorization', `Bearer ${ADMIN_KEY}`).send(seeded);
    expect(put.status).toBe(200);
    const before = await api();
    const b = await marketer();
    const fields = formFields((await b.get('/app/scoring')).text);
    expect(fields.rule_where![0]).toBe('path = /pricing\nplan = "5"\nvip = true');
    expect(fields.fit_value![1]).toBe('US, GB, "Acme, Inc", "5", 7');
    expect((await b.post('/app/scoring/form', fields)).status).toBe(303);
    const after = await api();
    expect(after.version).toBe(before.version + 1);
    expect(rulesOf(after)).toEqual(rulesOf(before));
    expect(JSON.stringify(rulesOf(after))).toBe(JSON.stringify(rulesOf(before)));
  });

  it('when a rule row is cleared, then the saved version no longer has that rule', async () => {
    const b = await marketer();
    const fields = formFields((await b.get('/app/scoring')).text);
    const at = fields.rule_id!.indexOf('webinar');
    fields.rule_id![at] = '';
    fields.rule_event![at] = '';
    expect((await b.post('/app/scoring/form', fields)).status).toBe(303);
    const v = await api();
    expect(v.rules.map((r: { id: string }) => r.id)).toEqual(['pricing', 'demo', 'unsub']);
    expect(v.fit).toHaveLength(3);
  });

  it('when a row is wrong, then the form comes back as typed naming the row, the box is marked and nothing is saved', async () => {
    const before = await api();
    const b = await marketer();
    const fields = formFields((await b.get('/app/scoring')).text);
    fields.rule_points![0] = 'lots';
    fields.rule_where![1] = '$gt = 1';
    fields.rule_id![2] = '<script>alert(1)</script>';
    const bad = await b.post('/app/scoring/form', fields);
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Nothing was saved');
    expect(bad.text).toContain('Rule 1 (pricing): points must be a number (you typed “lots”)');
    expect(bad.text).toContain('Rule 2 (demo): condition &quot;$gt&quot; must be named with 1-64 letters');
    expect(bad.text).toContain(
      'Rule 3 (&lt;script&gt;alert(1)&lt;/script&gt;): rule id must be 1-64 letters',
    );
    expect(bad.text).not.toContain('<script>alert(1)');
    // what was typed is still in the boxes, the wrong ones marked
    expect(bad.text).toMatch(/name="rule_points" value="lots"[^>]*aria-invalid="true"/);
    expect(bad.text).toMatch(/name="rule_where"[^>]*aria-invalid="true"[^>]*>\$gt &#x3D; 1</);
    expect(bad.text).toMatch(/name="rule_points" value="40"(?![^>]*aria-invalid)/);
    expect((await api()).version).toBe(before.version);
  });

  it('when "Add rows" is pressed, then the form comes back with what was typed and more empty rows, unsaved', async () => {
    const before = await api();
    const b = await marketer();
    const fields = formFields((await b.get('/app/scoring')).text);
    const rows = fields.rule_id!.length;
    fields.rule_id![rows - 1] = 'typed';
    const more = await b.post('/app/scoring/form', { ...fields, more: 'rules' });
    expect(more.status).toBe(200);
    const again = formFields(more.text);
    expect(again.rule_id).toHaveLength(rows + 3);
    expect(again.rule_id![rows - 1]).toBe('typed');
    expect(again.fit_id).toHaveLength(fields.fit_id!.length);
    expect((await api()).version).toBe(before.version);
    // without a form to keep, a link asks for more rows
    expect(formFields((await b.get('/app/scoring?rows=10&fitRows=0')).text).rule_id).toHaveLength(
      before.rules.length + 10,
    );
  });

  it('when a value holds HTML, then the page shows it as text', async () => {
    const html = '<img src=x onerror=alert(1)>';
    await env
      .http()
      .put('/api/scoring')
      .set('Authorization', `Bearer ${ADMIN_KEY}`)
      .send({ rules: [{ id: 'x', event: 'page_view', where: { title: html }, points: 1 }] });
    const b = await marketer();
    const page = await b.get('/app/scoring');
    expect(page.text).not.toContain('<img src=x');
    expect(page.text).toContain('title &#x3D; &lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;');
    // and it saves back as the same text
    expect((await b.post('/app/scoring/form', formFields(page.text))).status).toBe(303);
    expect((await api()).rules[0].where.title).toBe(html);
  });

  it('when the body is malformed or too big, then it is refused with a 4xx naming the problem and nothing is saved', async () => {
    const before = await api();
    const b = await marketer();
    const fields = formFields((await b.get('/app/scoring')).text);
    const many = (v: string) => Array.from({ length: 601 }, () => v);
    const tooMany = await b.post('/app/scoring/form', {
      rule_id: many(''),
      rule_event: many(''),
      rule_where: many(''),
      rule_points: many(''),
      rule_maxPerDay: many(''),
      rule_maxTotal: many(''),
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.text).toContain('at most 600 are accepted');
    const misaligned = await b.post('/app/scoring/form', { ...fields, rule_points: ['1'] });
    expect(misaligned.status).toBe(400);
    expect(misaligned.text).toContain('do not line up: rule_points');
    const unknown = await b.post('/app/scoring/form', { ...fields, 'rule_id[$gt]': '' });
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain('rule_id[$gt]');
    const huge = await b.post('/app/scoring/form', { ...fields, rule_where: ['x'.repeat(600_000)] });
    expect(huge.status).toBe(413);
    const noToken = await b.post('/app/scoring/form', fields, false);
    expect(noToken.status).toBe(403);
    expect((await api()).version).toBe(before.version);
  });

  it('when a sales key opens scoring, then it sees the rules as tables without inputs and cannot post the form', async () => {
    const before = await api();
    const b = browser(env.app);
    await b.signIn(await env.keyFor('sales'));
    const page = await b.get('/app/scoring');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Read only');
    expect(page.text).not.toMatch(/name="(rule|fit)_/);
    expect(page.text).not.toContain('action="/app/scoring/form"');
    expect(page.text).toContain('<code>title &#x3D; &lt;img');
    const post = await b.post('/app/scoring/form', {
      rule_id: 'sneaky',
      rule_event: 'page_view',
      rule_where: '',
      rule_points: '99',
      rule_maxPerDay: '',
      rule_maxTotal: '',
    });
    expect(post.status).toBe(403);
    expect((await api()).version).toBe(before.version);
  });
});
