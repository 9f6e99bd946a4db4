import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LeadEvent } from '../../src/modules/events/index.js';
import { Import, importCsv } from '../../src/modules/imports/index.js';
import { captureLead, Lead } from '../../src/modules/leads/index.js';
import { getQueue } from '../../src/queues/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { waitFor } from '../helpers/wait.js';

const auth = `Bearer ${ADMIN_KEY}`;
const maxBytes = 12_000_000;

async function* chunks(text: string | Buffer, size = 1000) {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** Every lead with the given email keys, without the fields that only say when (compared as data). */
const leadsOf = (keys: string[]) =>
  Lead.find({ emailKey: { $in: keys } })
    .sort({ emailKey: 1 })
    .lean();

describe('CSV import', () => {
  const env = useTestEnv({ IMPORT_MAX_BYTES: String(maxBytes), IMPORT_MAX_LINE_BYTES: '65536' });
  const post = (query: string, body: string | Buffer, type = 'text/csv') =>
    env.http().post(`/api/imports?${query}`).set('Authorization', auth).set('Content-Type', type).send(body);

  it('when a Salesforce export is posted, then leads are created with mapped fields and the report is kept', async () => {
    const csv = [
      'First Name,Last Name,Email,Company,Title,Phone,Mailing Country,City,Lead Source,Industry,Rating',
      'Ada,Lovelace,ada@sf.example,Analytical Engines,CTO,030 1234567,Germany,Berlin,Trade Show,Computing,Hot',
      'Grace,Hopper,grace@sf.example,US Navy,Rear Admiral,,United States,Arlington,Web,Defense,Warm',
    ].join('\r\n');
    const res = await post('source=Expo%202026&sequence=welcome', csv);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      status: 'completed',
      rows: 2,
      created: 2,
      merged: 0,
      rejected: 0,
      rejectedRows: [],
    });
    const ada = await Lead.findOne({ emailKey: 'ada@sf.example' }).lean();
    expect(ada).toMatchObject({
      firstName: 'Ada',
      lastName: 'Lovelace',
      company: 'Analytical Engines',
      title: 'CTO',
      phone: '+49301234567',
      country: 'DE',
      source: 'Expo 2026',
      attributes: { city: 'Berlin', leadSource: 'Trade Show', industry: 'Computing', rating: 'Hot' },
    });
    expect(await LeadEvent.countDocuments({ leadId: ada!._id, type: 'import' })).toBe(1);
    const jobs = await getQueue('lead-captured').getJobs(['waiting']);
    expect(jobs.find((j) => j.data.leadId === String(ada!._id))?.data).toMatchObject({
      via: 'import',
      created: true,
      sequenceKey: 'welcome',
    });

    const got = await env.http().get(`/api/imports/${res.body.id}`).set('Authorization', auth);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: res.body.id,
      source: 'Expo 2026',
      status: 'completed',
      rows: 2,
      created: 2,
    });
  });

  it('when a HubSpot export uses ; and a BOM, then it is read the same way', async () => {
    const csv =
      '\uFEFFRecord ID;First Name;Last Name;Email;Company Name;Job Title;Phone Number;Country/Region;Lifecycle Stage\n' +
      '101;Hedy;Lamarr;hedy@hs.example;"MGM; Studios";Inventor;;Austria;Lead\n';
    const res = await post('source=HubSpot', csv);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ rows: 1, created: 1 });
    expect(await Lead.findOne({ emailKey: 'hedy@hs.example' }).lean()).toMatchObject({
      firstName: 'Hedy',
      company: 'MGM; Studios',
      title: 'Inventor',
      country: 'AT',
      attributes: { recordId: '101', lifecycleStage: 'Lead' },
    });
  });

  it('when emails repeat within the file and match existing leads, then each person is one lead', async () => {
    await captureLead({ email: 'known@dedup.example', firstName: 'Known' }, { via: 'api' });
    const rows = ['Email,First Name,Company'];
    rows.push('Known@Dedup.example,Other,Filled Co');
    for (let i = 0; i < 5; i++) rows.push(`p${i}@dedup.example,P${i},`);
    rows.push('P0@DEDUP.example,,Late Co'); // same person as row 3, in a later batch
    rows.push('p1@dedup.example,Again,'); // same batch as its first row
    const report = await importCsv(chunks(rows.join('\n')), { source: 'dedup', batchSize: 3 });
    expect(report).toMatchObject({ rows: 8, created: 5, merged: 3, rejected: 0 });
    expect(await Lead.countDocuments({ emailKey: /@dedup\.example$/ })).toBe(6);
    expect(await Lead.findOne({ emailKey: 'known@dedup.example' }).lean()).toMatchObject({
      firstName: 'Known',
      company: 'Filled Co',
    });
    expect(await Lead.findOne({ emailKey: 'p0@dedup.example' }).lean()).toMatchObject({
      firstName: 'P0',
      company: 'Late Co',
    });
  });

  it('when the same file is imported twice, then the second run changes nothing', async () => {
    const csv = [
      'Email,First Name,Last Name,Favourite Colour',
      'r1@twice.example,Ro,One,red',
      'r2@twice.example,Ri,Two,',
      'bad,No,Email,',
    ].join('\n');
    const first = await post('source=Twice', csv);
    expect(first.body).toMatchObject({ rows: 3, created: 2, merged: 0, rejected: 1 });
    const keys = ['r1@twice.example', 'r2@twice.example'];
    const leadsBefore = await leadsOf(keys);
    const eventsBefore = await LeadEvent.find({ leadId: { $in: leadsBefore.map((l) => l._id) } }).lean();
    const jobsBefore = (await getQueue('lead-captured').getJobs(['waiting'])).length;

    const second = await post('source=Twice', csv);
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ rows: 3, created: 0, merged: 2, unchanged: 2, rejected: 1 });
    expect(await leadsOf(keys)).toEqual(leadsBefore);
    expect(await LeadEvent.find({ leadId: { $in: leadsBefore.map((l) => l._id) } }).lean()).toEqual(
      eventsBefore,
    );
    expect((await getQueue('lead-captured').getJobs(['waiting'])).length).toBe(jobsBefore);
  });

  it('when an import is a dry run, then it counts what would happen and writes nothing', async () => {
    await captureLead({ email: 'exists@dry.example' }, { via: 'api' });
    const [leads, events, imports] = await Promise.all([
      Lead.countDocuments(),
      LeadEvent.countDocuments(),
      Import.countDocuments(),
    ]);
    const csv = [
      'Email,Name',
      'exists@dry.example,E',
      'new1@dry.example,N',
      'new2@dry.example,N',
      'NEW1@dry.example,N',
      'nope,N',
    ].join('\n');
    const res = await post('source=Dry&dryRun=true', csv);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: null, dryRun: true, rows: 5, created: 2, merged: 2, rejected: 1 });
    const viaService = await importCsv(chunks(csv), { source: 'Dry', dryRun: true, batchSize: 2 });
    expect(viaService).toMatchObject({ created: 2, merged: 2, rejected: 1 });
    expect(await Lead.countDocuments()).toBe(leads);
    expect(await LeadEvent.countDocuments()).toBe(events);
    expect(await Import.countDocuments()).toBe(imports);
  });

  it('when rows are hostile, then each gets a rejected entry with reasons and nothing is written for it', async () => {
    const body = Buffer.concat([
      Buffer.from('Email,First Name,Last Name,Notes\n'),
      Buffer.from(
        'ok1@hostile.example,"<img src=x onerror=alert(1)>Mallory","Evil\r\nBcc: victim@example.com",fine\n',
      ),
      Buffer.from(`big@hostile.example,Big,Field,${'x'.repeat(10 * 1024 * 1024)}\n`),
      Buffer.from('utf@hostile.example,'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from(',Bytes,\n'),
      Buffer.from('"{""$gt"": """"}",Op,Erator,\n'),
      Buffer.from('ragged@hostile.example,Rag\n'),
      Buffer.from('ragged2@hostile.example,Rag,Ged,notes,extra\n'),
      Buffer.from('ok2@hostile.example,Fine,Person,\n'),
    ]);
    const res = await post('source=Hostile', body);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ rows: 7, created: 2, rejected: 5 });
    expect(res.body.rejectedRows.map((r: { row: number }) => r.row)).toEqual([3, 4, 5, 6, 7]);
    for (const r of res.body.rejectedRows) expect(r.reasons.length).toBeGreaterThan(0);
    expect(res.body.rejectedRows[0].reasons[0]).toMatch(/too large/);
    expect(res.body.rejectedRows[1].reasons[0]).toMatch(/UTF-8/);
    expect(res.body.rejectedRows[2].reasons[0]).toMatch(/^email: /);
    expect(res.body.rejectedRows[3].reasons[0]).toMatch(/columns/);
    const stored = await Lead.find({ emailKey: /hostile\.example$|\$gt/ }).lean();
    expect(stored.map((l) => l.emailKey).sort()).toEqual(['ok1@hostile.example', 'ok2@hostile.example']);
    const mallory = stored.find((l) => l.emailKey === 'ok1@hostile.example')!;
    expect(mallory.firstName).toBe('Mallory');
    expect(mallory.lastName).toBe('Evil Bcc: victim@example.com');
  });

  it('when the body is not CSV, too large, empty or lacks an email column, then the answer is a 4xx', async () => {
    expect((await post('source=S', '{"email":"a@b.c"}', 'application/json')).status).toBe(415);
    expect((await post('source=S', 'Email\na@b.example\n', 'text/csv; charset=iso-8859-1')).status).toBe(415);
    const big = await post('source=S', Buffer.alloc(maxBytes + 1, 'a'));
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
    const empty = await post('source=S', '');
    expect(empty.status).toBe(400);
    const noEmail = await post('source=S', 'Name,Company\nAnn,ACME\n');
    expect(noEmail.status).toBe(400);
    expect(noEmail.body.error).toMatchObject({ code: 'validation_failed', details: [{ path: 'header' }] });
    expect((await post('', 'Email\na@b.example\n')).status).toBe(400);
    expect((await post('source[$gt]=', 'Email\na@b.example\n')).status).toBe(400);
  });

  it('when a chunked upload passes the size limit, then it is stopped with 413', async () => {
    const req = env
      .http()
      .post('/api/imports?source=Chunked')
      .set('Authorization', auth)
      .set('Content-Type', 'text/csv');
    const line = Buffer.from(`${'x'.repeat(49_999)}\n`);
    const res = await new Promise<{ status: number }>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
      req.write('Email,Notes\n');
      const block = Buffer.concat(Array.from({ length: 20 }, () => line));
      for (let i = 0; i * block.length <= maxBytes; i++) req.write(block);
      req.end();
    });
    expect(res.status).toBe(413);
    const failed = await Import.findOne({ source: 'Chunked' }).lean();
    expect(failed).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/larger than/) as unknown,
    });
  });

  it('when the client goes away mid-upload, then the import is recorded as failed and the server carries on', async () => {
    const server = env.app.listen(0);
    try {
      const { port } = server.address() as AddressInfo;
      const req = http.request({
        port,
        method: 'POST',
        path: '/api/imports?source=Aborted',
        headers: { Authorization: auth, 'Content-Type': 'text/csv', 'Transfer-Encoding': 'chunked' },
      });
      req.on('error', () => undefined);
      req.write('Email,Name\n');
      for (let i = 0; i < 50; i++) req.write(`gone${i}@aborted.example,G\n`);
      await waitFor(() => Import.exists({ source: 'Aborted' }), { what: 'the import to start' });
      req.destroy();
      const failed = await waitFor(() => Import.findOne({ source: 'Aborted', status: 'failed' }).lean(), {
        what: 'the import to be marked failed',
      });
      expect(failed.error).toBeTruthy();
      expect((await env.http().get('/healthz')).status).toBe(200);
    } finally {
      server.close();
    }
  });

  it('when the key lacks the role, then imports are refused', async () => {
    const sales = await env.keyFor('sales');
    const marketing = await env.keyFor('marketing');
    const csv = 'Email\nrole@roles.example\n';
    const send = (key?: string) => {
      const r = env.http().post('/api/imports?source=Roles').set('Content-Type', 'text/csv');
      return (key ? r.set('Authorization', `Bearer ${key}`) : r).send(csv);
    };
    expect((await send()).status).toBe(401);
    expect((await send(sales)).status).toBe(403);
    const ok = await send(marketing);
    expect(ok.status).toBe(201);
    const get = (key: string) =>
      env.http().get(`/api/imports/${ok.body.id}`).set('Authorization', `Bearer ${key}`);
    expect((await get(sales)).status).toBe(403);
    expect((await get(marketing)).status).toBe(200);
    const missing = await env.http().get('/api/imports/000000000000000000000000').set('Authorization', auth);
    expect(missing.status).toBe(404);
    expect((await env.http().get('/api/imports/nope').set('Authorization', auth)).status).toBe(400);
  });
});
