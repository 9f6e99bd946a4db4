import { describe, expect, it } from 'vitest';
import { escapeHtml, renderEmbed } from '../../src/modules/forms/form.embed.js';
import {
  isSpam,
  mapSubmission,
  originAllowed,
  pickRedirect,
} from '../../src/modules/forms/submission.mapping.js';
import { isForwardStage, duplicateReasons } from '../../src/modules/leads/lead.view.js';
import {
  combineInputs,
  fillEmptyFields,
  normalizeLeadInput,
} from '../../src/modules/leads/normalize-input.js';
import { hashRequest } from '../../src/modules/leads/idempotency.service.js';

const rules = { fields: [{ name: 'team_size', required: true }], honeypot: '_hp', minFillSeconds: 5 };

describe('Web-to-Lead mapping', () => {
  it('when Salesforce names are used, then they map to lead fields and extras to attributes', () => {
    const m = mapSubmission(
      {
        first_name: 'A',
        last_name: 'B',
        email: 'a@b.co',
        lead_source: 'Web',
        zip: '10115',
        URL: 'https://b.co',
        team_size: '5',
        oid: 'x',
        encoding: 'UTF-8',
        retURL: 'https://b.co',
        _hp: '',
        nickname: 'ab',
      },
      rules,
    );
    expect(m.errors).toEqual([]);
    expect(m.input).toEqual({
      firstName: 'A',
      lastName: 'B',
      email: 'a@b.co',
      source: 'Web',
      // every field of the form is kept: undeclared ones too
      attributes: { zip: '10115', website: 'https://b.co', team_size: '5', nickname: 'ab' },
    });
    expect(m.submittedName.firstName).toBe('first_name');
  });

  it('when a value is not a single string or a required field is missing, then each is named', () => {
    const m = mapSubmission({ email: ['a@b.co', 'c@d.co'], company: { $gt: '' } }, rules);
    expect(m.errors.map((e) => e.path).sort()).toEqual(['company', 'email', 'team_size']);
  });

  it('when only mobile is given, then it becomes the phone too', () => {
    expect(
      mapSubmission({ email: 'a@b.co', mobile: '+4915112345678', team_size: '1' }, rules).input.phone,
    ).toBe('+4915112345678');
  });
});

describe('spam, redirects and origins', () => {
  const now = 1_700_000_000_000;
  it('when the honeypot is filled or _ts is too recent, then it is spam; without _ts it is not', () => {
    expect(isSpam({ _hp: 'x' }, rules, now)).toBe(true);
    expect(isSpam({ _ts: String(now - 1000) }, rules, now)).toBe(true);
    expect(isSpam({ _ts: String(now - 6000) }, rules, now)).toBe(false);
    expect(isSpam({}, rules, now)).toBe(false);
  });

  it('when retURL points elsewhere, then the configured redirect wins (no open redirect)', () => {
    const form = {
      redirectUrl: 'https://site.example/thanks',
      allowRetUrl: true,
      allowedOrigins: ['https://www.site.example'],
    };
    expect(pickRedirect(form, 'https://site.example/other')).toBe('https://site.example/other');
    expect(pickRedirect(form, 'https://www.site.example/x')).toBe('https://www.site.example/x');
    expect(pickRedirect(form, 'https://evil.example/')).toBe('https://site.example/thanks');
    expect(pickRedirect(form, 'https://site.example.evil.example/')).toBe('https://site.example/thanks');
    expect(pickRedirect(form, 'javascript:alert(1)')).toBe('https://site.example/thanks');
    expect(pickRedirect({ ...form, allowRetUrl: false }, 'https://site.example/other')).toBe(
      'https://site.example/thanks',
    );
  });

  it('when allowedOrigins is set, then only those origins pass', () => {
    expect(originAllowed([], 'https://x.example')).toBe(true);
    expect(originAllowed(['https://a.example'], 'https://a.example')).toBe(true);
    expect(originAllowed(['https://a.example'], 'null')).toBe(false);
  });
});

describe('normalisation and dedup rules', () => {
  it('when an input is normalised, then email is trimmed with a case-folded key, country ISO, phone E.164', () => {
    expect(
      normalizeLeadInput(
        { email: ' Ana@X.COM ', firstName: '  Ana  ', country: 'deu', phone: '0151 12345678' },
        'Fair',
      ),
    ).toEqual({
      email: 'Ana@X.COM',
      emailKey: 'ana@x.com',
      firstName: 'Ana',
      lastName: null,
      company: null,
      title: null,
      phone: '+4915112345678',
      country: 'DE',
      source: 'Fair',
      attributes: {},
    });
  });

  it('when a repeat brings values, then only empty fields are filled', () => {
    const incoming = normalizeLeadInput({
      email: 'a@x.com',
      firstName: 'New',
      title: 'CEO',
      attributes: { a: 1, b: 2 },
    });
    expect(fillEmptyFields({ firstName: 'Old', title: null, attributes: { a: 0 } }, incoming)).toEqual({
      title: 'CEO',
      'attributes.b': 2,
    });
    const combined = combineInputs(normalizeLeadInput({ email: 'a@x.com', firstName: 'First' }), incoming);
    expect(combined).toMatchObject({ firstName: 'First', title: 'CEO' });
  });

  it('when two people share name+company or phone, then the reasons say so', () => {
    expect(
      duplicateReasons(
        { emailKey: 'a@x', firstName: 'Ann', lastName: 'Lee', company: 'X', phone: '+1' },
        { emailKey: 'b@x', firstName: 'ann', lastName: 'lee', company: 'x', phone: '+1' },
      ),
    ).toEqual(['name_company', 'phone']);
    expect(duplicateReasons({ lastName: 'Lee' }, { lastName: 'Lee' })).toEqual([]);
  });

  it('when a stage moves back, then it is refused', () => {
    expect(isForwardStage('lead', 'mql')).toBe(true);
    expect(isForwardStage('sql', 'lead')).toBe(false);
  });

  it('when a body has the same content in another key order, then its hash is the same', () => {
    expect(hashRequest({ a: 1, b: { c: 2, d: 3 } })).toBe(hashRequest({ b: { d: 3, c: 2 }, a: 1 }));
    expect(hashRequest({ a: 1 })).not.toBe(hashRequest({ a: 2 }));
  });
});

describe('embed', () => {
  it('when labels and names hold markup, then the embed escapes them', () => {
    const html = renderEmbed(
      { formId: 'f"1', name: 'x', honeypot: '_hp', fields: [{ name: 'size', label: '<script>x</script>' }] },
      'https://lf.example',
    );
    expect(html).not.toContain('<script>x');
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(html).toContain('action="https://lf.example/f/f%221"');
    expect(escapeHtml(`"'<>&`)).toBe('&quot;&#39;&lt;&gt;&amp;');
  });
});
