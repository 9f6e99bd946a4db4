import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeadEvent } from '../../src/modules/events/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { getQueue } from '../../src/queues/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';

/** A stand-in for the marketing site: records what browsers fetch after the 303. */
const site = await new Promise<{ url: string; hits: { method: string; url: string }[]; server: http.Server }>(
  (resolve) => {
    const hits: { method: string; url: string }[] = [];
    const server = http.createServer((req, res) => {
      hits.push({ method: req.method!, url: req.url! });
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<h1>thanks</h1>');
    });
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server }),
    );
  },
);

describe('forms and POST /f/:formId', () => {
  // 100 concurrent posts from one client: the rate limit is tested in its own file
  const env = useTestEnv({ RATE_LIMIT_PUBLIC: '100000' });
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
  let base = '';
  let server: http.Server;

  beforeAll(async () => {
    server = env.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const res = await env
      .http()
      .put('/api/forms/contact-us')
      .set(auth)
      .send({
        name: 'Contact us',
        redirectUrl: `${site.url}/thanks`,
        allowedOrigins: ['https://www.example.com'],
        allowRetUrl: true,
        source: 'Website',
        sequence: 'welcome',
        fields: [
          { name: 'company', required: true },
          { name: 'team_size', label: 'Team size & "scale"' },
        ],
        minFillSeconds: 3,
      });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await new Promise((r) => site.server.close(r));
  });

  const submit = (body: Record<string, unknown>, formId = 'contact-us') =>
    env.http().post(`/f/${formId}`).set('Content-Type', 'application/json').send(body);

  it('when a form is saved, then GET lists it with an escaped embed snippet that posts to /f/:formId', async () => {
    const list = await env.http().get('/api/forms').set(auth);
    expect(list.status).toBe(200);
    expect(list.body.items.map((f: { id: string }) => f.id)).toContain('contact-us');
    const one = await env.http().get('/api/forms/contact-us').set(auth);
    expect(one.body).toMatchObject({
      id: 'contact-us',
      honeypot: '_hp',
      minFillSeconds: 3,
      sequence: 'welcome',
    });
    expect(one.body.embed).toContain('action="http://leadflow.test/f/contact-us" method="post"');
    expect(one.body.embed).toContain('name="_hp"');
    expect(one.body.embed).toContain('Team size &amp; &quot;scale&quot;');
    expect(one.body.embed).toContain('<script src="http://leadflow.test/f/embed.js" async></script>');
    const hosted = await env.http().get('/f/contact-us');
    expect(hosted.status).toBe(200);
    expect(hosted.text).toMatch(/name="_ts" value="\d{13}"/);
    expect(hosted.text).toContain('<title>Contact us</title>');
    const script = await env.http().get('/f/embed.js');
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.text).toContain('fetch(form.action');
    expect((await env.http().get('/api/forms/nope').set(auth)).status).toBe(404);
    const bad = await env
      .http()
      .put('/api/forms/x')
      .set(auth)
      .send({ name: 'x', redirectUrl: 'javascript:alert(1)' });
    expect(bad.status).toBe(400);
  });

  it('when Web-to-Lead names are posted as JSON, then 201 creates the lead and a repeat is 200 on the same lead', async () => {
    const first = await submit({
      oid: '00D000000000001',
      first_name: 'Lin',
      last_name: 'Chu',
      email: 'Lin.Chu@Example.com',
      company: 'Chu Ltd',
      mobile: '+44 7911 123456',
      city: 'Leeds',
      URL: 'https://chu.example',
      lead_source: 'Partner',
      team_size: '12',
      favourite_colour: 'teal',
    });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ leadId: expect.stringMatching(/^[a-f0-9]{24}$/), created: true });
    const lead = await Lead.findById(first.body.leadId).lean();
    expect(lead).toMatchObject({
      firstName: 'Lin',
      lastName: 'Chu',
      email: 'Lin.Chu@Example.com',
      phone: '+447911123456',
      source: 'Partner',
      attributes: {
        city: 'Leeds',
        website: 'https://chu.example',
        mobile: '+44 7911 123456',
        team_size: '12',
      },
    });
    // an undeclared field is kept too (Web-to-Lead fidelity)
    expect((lead!.attributes as Record<string, unknown>).favourite_colour).toBe('teal');
    const ev = await LeadEvent.findOne({ leadId: lead!._id, type: 'form_submit' }).lean();
    expect(ev!.properties).toMatchObject({ formId: 'contact-us' });
    const job = (await getQueue('lead-captured').getJobs(['waiting'])).find(
      (j) => j.data.leadId === first.body.leadId,
    );
    expect(job!.data).toMatchObject({
      via: 'form',
      formId: 'contact-us',
      sequenceKey: 'welcome',
      created: true,
    });

    const again = await submit({ email: 'lin.chu@example.com', company: 'Other', title: 'CTO' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ leadId: first.body.leadId, created: false });
    expect(await Lead.findById(first.body.leadId).lean()).toMatchObject({ company: 'Chu Ltd', title: 'CTO' });
  });

  it('when a browser posts urlencoded and follows the 303, then it lands on the redirect URL and the lead exists', async () => {
    const res = await fetch(`${base}/f/contact-us`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://www.example.com' },
      body: new URLSearchParams({ email: 'browser@example.com', company: 'Acme', first_name: 'Bo' }),
      redirect: 'follow',
    });
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${site.url}/thanks`);
    expect(await res.text()).toContain('thanks');
    expect(site.hits.at(-1)).toEqual({ method: 'GET', url: '/thanks' });
    expect(await Lead.findOne({ emailKey: 'browser@example.com' }).lean()).toMatchObject({
      firstName: 'Bo',
      source: 'Website',
    });
  });

  it('when retURL is on an allowed origin it is followed; elsewhere the configured redirect is used', async () => {
    const ok = await env
      .http()
      .post('/f/contact-us')
      .type('form')
      .send({ email: 'ret1@example.com', company: 'A', retURL: 'https://www.example.com/welcome?x=1' });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('https://www.example.com/welcome?x=1');
    for (const evil of ['https://evil.example/phish', '//evil.example', 'javascript:alert(1)']) {
      const res = await env
        .http()
        .post('/f/contact-us')
        .type('form')
        .send({ email: 'ret2@example.com', company: 'A', retURL: evil });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(`${site.url}/thanks`);
    }
  });

  it('when required fields are missing, then browsers get a 400 HTML page naming them and scripts a JSON 400', async () => {
    const page = await env
      .http()
      .post('/f/contact-us')
      .type('form')
      .send({ email: 'not an email', first_name: '<b>x</b>' });
    expect(page.status).toBe(400);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('<strong>company</strong> is required');
    expect(page.text).toContain('<strong>email</strong>');
    expect(page.text).toContain('<strong>first_name</strong>');
    expect(page.text).not.toContain('<b>x</b>');
    const json = await submit({ first_name: 'Al' });
    expect(json.status).toBe(400);
    expect(json.body.error.code).toBe('validation_failed');
    expect(json.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['company', 'email']);
  });

  it('when the honeypot is filled or the form is sent too fast, then it looks like success and nothing is created', async () => {
    const hp = await submit({ email: 'bot1@example.com', company: 'Bots', _hp: 'http://spam' });
    expect(hp.status).toBe(201);
    expect(hp.body.created).toBe(true);
    const fast = await env
      .http()
      .post('/f/contact-us')
      .type('form')
      .send({ email: 'bot2@example.com', company: 'Bots', _ts: String(Date.now() - 500) });
    expect(fast.status).toBe(303);
    const slow = await submit({
      email: 'human@example.com',
      company: 'People',
      _ts: String(Date.now() - 10_000),
    });
    expect(slow.status).toBe(201);
    expect(await Lead.countDocuments({ emailKey: { $in: ['bot1@example.com', 'bot2@example.com'] } })).toBe(
      0,
    );
    expect(await Lead.countDocuments({ emailKey: 'human@example.com' })).toBe(1);
  });

  it('when the form is unknown or the Origin is not allowed, then 404 / 403; an allowed preflight gets CORS headers', async () => {
    expect((await submit({ email: 'x@example.com' }, 'no-such-form')).status).toBe(404);
    const evil = await env
      .http()
      .post('/f/contact-us')
      .set('Origin', 'https://evil.example')
      .send({ email: 'evil@example.com', company: 'E' });
    expect(evil.status).toBe(403);
    const pre = await env
      .http()
      .options('/f/contact-us')
      .set('Origin', 'https://www.example.com')
      .set('Access-Control-Request-Method', 'POST');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://www.example.com');
    expect(pre.headers['access-control-allow-headers']).toMatch(/Content-Type/);
    const badPre = await env.http().options('/f/contact-us').set('Origin', 'https://evil.example');
    expect(badPre.status).toBe(403);
    expect(await Lead.countDocuments({ emailKey: 'evil@example.com' })).toBe(0);
  });

  it('when 100 submissions of one email arrive concurrently over HTTP, then one lead exists', async () => {
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        fetch(`${base}/f/contact-us`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ email: 'Same@Concurrent.example', company: `C${i}` }),
        }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { leadId: string; created: boolean },
        })),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(99);
    expect(new Set(results.map((r) => r.body.leadId)).size).toBe(1);
    expect(await Lead.countDocuments({ emailKey: 'same@concurrent.example' })).toBe(1);
    expect(await LeadEvent.countDocuments({ leadId: results[0]!.body.leadId, type: 'form_submit' })).toBe(
      100,
    );
  });

  it('when the input is hostile, then /f answers a 4xx and writes nothing', async () => {
    const before = await Lead.countDocuments();
    const post = () => env.http().post('/f/contact-us');
    const cases: [string, () => Promise<{ status: number }>][] = [
      ['operator object', () => submit({ email: { $gt: '' }, company: 'X' })],
      ['operator in company', () => submit({ email: 'op@h.example', company: { $gt: '' } })],
      ['repeated field', () => post().type('form').send('email=a%40h.example&email=b%40h.example&company=X')],
      [
        'CR/LF in a name',
        () => submit({ email: 'crlf@h.example', company: 'X', first_name: 'A\r\nBcc: x@y.z' }),
      ],
      [
        'HTML in a name',
        () => submit({ email: 'html@h.example', company: 'X', last_name: '<img src=x onerror=alert(1)>' }),
      ],
      ['malformed JSON', () => post().set('Content-Type', 'application/json').send('{"email":')],
      ['wrong content type', () => post().set('Content-Type', 'text/xml').send('<lead/>')],
      ['multipart', () => post().field('email', 'mp@h.example').field('company', 'X')],
      [
        '10 MB field',
        () =>
          post()
            .type('form')
            .send(`email=big%40h.example&company=${'x'.repeat(10 * 1024 * 1024)}`),
      ],
      [
        'invalid UTF-8',
        () =>
          post()
            .set('Content-Type', 'application/x-www-form-urlencoded')
            .send(
              Buffer.concat([
                Buffer.from('email=utf%40h.example&company=X&first_name='),
                Buffer.from([0xc3, 0x28]),
              ]),
            ),
      ],
      [
        'invalid percent-encoded UTF-8',
        () => post().type('form').send('email=pct%40h.example&company=X&first_name=%FF%FE'),
      ],
      [
        'too many fields',
        () =>
          post()
            .type('form')
            .send(Array.from({ length: 500 }, (_, i) => `f${i}=1`).join('&')),
      ],
      [
        'latin1 charset',
        () =>
          post()
            .set('Content-Type', 'application/x-www-form-urlencoded; charset=latin1')
            .send('email=l%40h.example'),
      ],
    ];
    for (const [name, run] of cases) {
      const res = await run();
      expect({ name, clientError: res.status >= 400 && res.status < 500 }).toEqual({
        name,
        clientError: true,
      });
    }
    expect(await Lead.countDocuments()).toBe(before);
  });
});
