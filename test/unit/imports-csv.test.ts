import { describe, expect, it } from 'vitest';
import { readCsv, detectDelimiter, type CsvRecord } from '../../src/modules/imports/csv-reader.js';
import { mapHeader, safeAttributeKey } from '../../src/modules/imports/header-map.js';
import { toLeadInput } from '../../src/modules/imports/imports.schemas.js';

/** Feeds `parts` in small chunks, as a socket would, so boundaries fall inside records. */
async function records(parts: (string | Buffer)[], opts: { chunk?: number; maxLineBytes?: number } = {}) {
  const buf = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
  const size = opts.chunk ?? 7;
  async function* source() {
    for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
  }
  const out: CsvRecord[] = [];
  for await (const r of readCsv(source(), { maxLineBytes: opts.maxLineBytes })) out.push(r);
  return out;
}

const fieldsOf = (rs: CsvRecord[]) => rs.map((r) => ('fields' in r ? r.fields : r.error));

describe('CSV reading', () => {
  it('when the file starts with a UTF-8 BOM, then the first header is clean', async () => {
    const rs = await records(['\uFEFFEmail,First Name\r\na@example.com,Ann\r\n']);
    expect(fieldsOf(rs)).toEqual([
      ['Email', 'First Name'],
      ['a@example.com', 'Ann'],
    ]);
  });

  it('when the header uses ; or tab, then that delimiter is detected', async () => {
    expect(detectDelimiter('Email;First Name;Company, Inc')).toBe(';');
    expect(detectDelimiter('Email\tFirst Name\tNotes, misc')).toBe('\t');
    expect(detectDelimiter('"a;b;c",Email,Name')).toBe(',');
    const semi = await records(['Email;Company\na@example.com;"ACME, Inc"\n']);
    expect(fieldsOf(semi)[1]).toEqual(['a@example.com', 'ACME, Inc']);
    const tab = await records(['Email\tCompany\na@example.com\tACME; Inc\n']);
    expect(fieldsOf(tab)[1]).toEqual(['a@example.com', 'ACME; Inc']);
  });

  it('when a quoted field holds newlines, then it stays one record and rows count records', async () => {
    const rs = await records([
      'Email,Description\na@example.com,"line 1\nline 2\r\nline 3"\nb@example.com,x\n',
    ]);
    expect(rs).toEqual([
      { row: 1, fields: ['Email', 'Description'] },
      { row: 2, fields: ['a@example.com', 'line 1\nline 2\r\nline 3'] },
      { row: 3, fields: ['b@example.com', 'x'] },
    ]);
  });

  it('when a field is larger than the line limit, then only its row is cut and the rest is read', async () => {
    const huge = 'x'.repeat(3 * 1024 * 1024);
    const rs = await records(
      ['Email,Notes\na@example.com,ok\nb@example.com,', huge, '\nc@example.com,fine\n'],
      {
        chunk: 64 * 1024,
        maxLineBytes: 64 * 1024,
      },
    );
    const mapping = mapHeader(['Email', 'Notes']);
    expect(rs).toHaveLength(4);
    expect(rs[1]).toEqual({ row: 2, fields: ['a@example.com', 'ok'] });
    expect(toLeadInput((rs[2] as { fields: string[] }).fields, mapping)).toEqual({
      ok: false,
      reasons: ['the row is too large (a field exceeds the size limit)'],
    });
    expect(rs[3]).toEqual({ row: 4, fields: ['c@example.com', 'fine'] });
  });

  it('when a too-long line sits wholly inside one large chunk, then it is cut and its neighbours kept', async () => {
    const long = 'y'.repeat(5000);
    const rs = await records([`Email,Notes\na@example.com,1\nb@example.com,${long}\nc@example.com,3\n`], {
      chunk: 1 << 20,
      maxLineBytes: 1024,
    });
    expect(rs.map((r) => ('fields' in r ? r.fields[0] : r.error))).toEqual([
      'Email',
      'a@example.com',
      expect.stringContaining('oversized') as unknown,
      'c@example.com',
    ]);
    expect(rs.map((r) => r.row)).toEqual([1, 2, 3, 4]);
  });

  it('when a quote is never closed, then that last row is reported as an error', async () => {
    const rs = await records(['Email,Name\na@example.com,Ann\nb@example.com,"Bob\n']);
    expect(rs[1]).toEqual({ row: 2, fields: ['a@example.com', 'Ann'] });
    expect(rs[2]).toMatchObject({ row: 3, error: expect.stringMatching(/quote/i) as unknown });
  });

  it('when bytes are not valid UTF-8, then the row is rejected naming the column', async () => {
    const rs = await records(['Email,First Name\nbad@example.com,', Buffer.from([0xff, 0xfe]), '\n']);
    const r = toLeadInput((rs[1] as { fields: string[] }).fields, mapHeader(['Email', 'First Name']));
    expect(r).toEqual({ ok: false, reasons: ['First Name: is not valid UTF-8'] });
  });

  it('when the source fails midway, then reading fails with its error instead of hanging', async () => {
    async function* failing() {
      yield Buffer.from('Email,Name\na@example.com,A\n');
      await Promise.resolve();
      throw new Error('connection reset');
    }
    const read = async () => {
      for await (const _ of readCsv(failing())) void _;
    };
    await expect(read()).rejects.toThrow('connection reset');
  });

  it('when the file is only a header without a line end, or empty, then that is what is read', async () => {
    expect(fieldsOf(await records(['Email;Name']))).toEqual([['Email', 'Name']]);
    expect(await records([''])).toEqual([]);
  });

  it('when a multi-byte character is split across chunks, then it is decoded intact', async () => {
    const rs = await records(['Email,First Name\nz@example.com,Zoë Łukasz 日本\n'], { chunk: 1 });
    expect(fieldsOf(rs)[1]).toEqual(['z@example.com', 'Zoë Łukasz 日本']);
  });
});

describe('header mapping', () => {
  it('when a Salesforce lead export is read, then its columns map to lead fields and attributes', () => {
    const m = mapHeader([
      'First Name',
      'Last Name',
      'Email',
      'Company',
      'Title',
      'Phone',
      'Mobile',
      'Lead Source',
      'Mailing Country',
      'Street',
      'City',
      'State/Province',
      'Zip/Postal Code',
      'Website',
      'Description',
      'Industry',
      'Lead ID',
    ]);
    expect(m.columns).toEqual([
      { kind: 'field', key: 'firstName' },
      { kind: 'field', key: 'lastName' },
      { kind: 'field', key: 'email' },
      { kind: 'field', key: 'company' },
      { kind: 'field', key: 'title' },
      { kind: 'field', key: 'phone' },
      { kind: 'attribute', key: 'mobile' },
      { kind: 'attribute', key: 'leadSource' },
      { kind: 'field', key: 'country' },
      { kind: 'attribute', key: 'street' },
      { kind: 'attribute', key: 'city' },
      { kind: 'attribute', key: 'state' },
      { kind: 'attribute', key: 'postalCode' },
      { kind: 'attribute', key: 'website' },
      { kind: 'attribute', key: 'description' },
      { kind: 'attribute', key: 'industry' },
      { kind: 'attribute', key: 'leadId' },
    ]);
  });

  it('when a HubSpot contact export is read, then its columns map too', () => {
    const m = mapHeader([
      'Record ID',
      'First Name',
      'Last Name',
      'Email',
      'Company Name',
      'Job Title',
      'Phone Number',
      'Country/Region',
      'Original Source',
      'Lifecycle Stage',
    ]);
    expect(m.columns).toEqual([
      { kind: 'attribute', key: 'recordId' },
      { kind: 'field', key: 'firstName' },
      { kind: 'field', key: 'lastName' },
      { kind: 'field', key: 'email' },
      { kind: 'field', key: 'company' },
      { kind: 'field', key: 'title' },
      { kind: 'field', key: 'phone' },
      { kind: 'field', key: 'country' },
      { kind: 'attribute', key: 'leadSource' },
      { kind: 'attribute', key: 'lifecycleStage' },
    ]);
  });

  it('when headers differ in case, spaces and underscores, then they map alike', () => {
    const m = mapHeader(['EMAIL_ADDRESS', 'first_name', 'LastName', ' job title ']);
    expect(m.columns.map((c) => (c.kind === 'ignore' ? null : c.key))).toEqual([
      'email',
      'firstName',
      'lastName',
      'title',
    ]);
  });

  it('when a header is hostile, then its attribute key has no $, dot or prototype name', () => {
    expect(safeAttributeKey('{"$gt": ""}')).toBe('gt');
    expect(safeAttributeKey('a.b.$c')).toBe('aBC');
    expect(safeAttributeKey('__proto__')).toBe('proto');
    expect(safeAttributeKey('constructor')).toBe('constructorColumn');
    expect(safeAttributeKey('2024 budget')).toBe('c2024Budget');
    expect(safeAttributeKey('***')).toBe('');
    expect(mapHeader(['***']).columns).toEqual([{ kind: 'ignore' }]);
  });
});

describe('row validation', () => {
  const mapping = mapHeader(['Email', 'First Name', 'Last Name', 'Company', 'Favourite Colour']);

  it('when a row is valid, then it becomes a lead input with attributes', () => {
    expect(toLeadInput([' Ann@Example.com ', 'Ann', 'Lee', 'ACME', 'blue'], mapping)).toEqual({
      ok: true,
      lead: {
        email: 'Ann@Example.com',
        firstName: 'Ann',
        lastName: 'Lee',
        company: 'ACME',
        attributes: { favouriteColour: 'blue' },
      },
    });
  });

  it('when names carry HTML and CR/LF, then they are cleaned', () => {
    const r = toLeadInput(
      ['x@example.com', '<script>alert(1)</script>Eve\r\nBcc: a@b.c', '<b>Mal</b>', '', ''],
      mapping,
    );
    expect(r).toEqual({
      ok: true,
      lead: { email: 'x@example.com', firstName: 'alert(1) Eve Bcc: a@b.c', lastName: 'Mal', attributes: {} },
    });
  });

  it('when the email is missing, invalid or an operator, then the row is rejected with reasons', () => {
    expect(toLeadInput(['', 'Ann', '', '', ''], mapping)).toEqual({
      ok: false,
      reasons: ['email: is required'],
    });
    expect(toLeadInput(['not-an-email', 'Ann', '', '', ''], mapping)).toEqual({
      ok: false,
      reasons: ['email: must be an email address'],
    });
    expect(toLeadInput(['{"$gt": ""}', '', '', '', ''], mapping)).toMatchObject({ ok: false });
  });

  it('when a row has too few or extra non-empty columns, then it is rejected; empty padding is fine', () => {
    expect(toLeadInput(['a@example.com', 'Ann'], mapping)).toEqual({
      ok: false,
      reasons: ['the row has 2 columns, the header has 5'],
    });
    expect(toLeadInput(['a@example.com', 'Ann', '', '', '', 'surprise'], mapping)).toEqual({
      ok: false,
      reasons: ['the row has 6 columns, the header has 5'],
    });
    expect(toLeadInput(['a@example.com', 'Ann', '', '', '', '', ''], mapping)).toMatchObject({ ok: true });
  });

  it('when a name is longer than allowed, then the row is rejected naming the field', () => {
    const r = toLeadInput(['a@example.com', 'A'.repeat(500), '', '', ''], mapping);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reasons[0]).toMatch(/^firstName: /);
  });
});
