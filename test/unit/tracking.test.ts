import { describe, expect, it } from 'vitest';
import {
  attributionOf,
  campaignFrom,
  cleanReferrer,
  describePage,
  touchView,
} from '../../src/modules/events/attribution.logic.js';
import { parseBeacon } from '../../src/modules/events/tracking.schemas.js';
import {
  leadTokenTtlMs,
  newVisitorId,
  signLeadToken,
  verifyLeadToken,
  verifyVisitorId,
  wantsLeadToken,
  withLeadToken,
} from '../../src/modules/events/visitor.tokens.js';
import { verifyToken } from '../../src/modules/email/tokens.js';

const secret = 'unit-test-secret-0123456789';
const leadId = '65f0c0ffee0123456789abcd';

describe('visitor ids', () => {
  it('when leadflow signs a visitor id, then it verifies to its random part, and each id is new', () => {
    const a = newVisitorId(secret);
    const b = newVisitorId(secret);
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
    expect(a).not.toBe(b);
    expect(verifyVisitorId(secret, a)).toBe(a.split('.')[0]);
  });

  it('when an id is forged, altered, signed with another secret or not a string, then it is refused', () => {
    const good = newVisitorId(secret);
    const [id, sig] = good.split('.') as [string, string];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    for (const bad of [
      `${flip(id, 3)}.${sig}`,
      `${id}.${flip(sig, 5)}`,
      newVisitorId('another-secret-0123456789'),
      // the same MAC bytes spelled differently (base64url's last character has unused bits)
      `${id}.${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`,
      `${id}.${sig}.x`,
      `${id}`,
      'a'.repeat(45),
      `${id}.${sig}`.replace('.', ':'),
      '',
      123,
      { $gt: '' },
      null,
    ]) {
      expect(verifyVisitorId(secret, bad)).toBeUndefined();
    }
  });

  it('when a lead token is genuine and fresh, then it names its lead; expired, altered or a visitor id, it does not', () => {
    const now = Date.UTC(2026, 0, 1);
    const t = signLeadToken(secret, leadId, now);
    expect(verifyLeadToken(secret, t, now + 1000)).toBe(leadId);
    expect(verifyLeadToken(secret, t, now + leadTokenTtlMs + 1)).toBeUndefined();
    expect(verifyLeadToken('another-secret-0123456789', t, now)).toBeUndefined();
    const [body, sig] = t.split('.') as [string, string];
    const other = Buffer.from(`${'0'.repeat(24)}:${now + leadTokenTtlMs}`).toString('base64url');
    expect(verifyLeadToken(secret, `${other}.${sig}`, now)).toBeUndefined();
    expect(verifyLeadToken(secret, `${body}.${sig}x`, now)).toBeUndefined();
    // kinds do not cross: a visitor id is no lead token, and neither is an email token
    expect(verifyLeadToken(secret, newVisitorId(secret), now)).toBeUndefined();
    expect(verifyToken(secret, t)).toBeUndefined();
    expect(verifyVisitorId(secret, t)).toBeUndefined();
  });

  it('when a click goes to a tracked domain, then the destination gets lf_t (fragment kept last)', () => {
    expect(wantsLeadToken('https://www.example.com/a', ['example.com'])).toBe(true);
    expect(wantsLeadToken('https://example.com/a', ['example.com'])).toBe(true);
    expect(wantsLeadToken('https://badexample.com/a', ['example.com'])).toBe(false);
    expect(wantsLeadToken('https://example.com.evil.io/', ['example.com'])).toBe(false);
    expect(wantsLeadToken('https://any.io/', ['*'])).toBe(true);
    expect(wantsLeadToken('https://any.io/', [])).toBe(false);
    expect(withLeadToken('https://example.com/p?a=1#top', 'tok')).toBe(
      'https://example.com/p?a=1&lf_t=tok#top',
    );
  });
});

describe('campaign parameters and attribution', () => {
  it('when a URL carries campaign parameters, then only those are kept, without the rest of the query', () => {
    const page = describePage(
      new URL('https://www.example.com/pricing?utm_source=news&utm_campaign=spring&email=a@b.c&gclid=G1'),
    );
    expect(page).toEqual({
      host: 'www.example.com',
      path: '/pricing',
      landingPage: 'https://www.example.com/pricing',
      campaign: { utm_source: 'news', utm_campaign: 'spring', gclid: 'G1' },
    });
  });

  it('when campaign values are not plain text, then they are dropped', () => {
    expect(
      campaignFrom({
        utm_source: { $gt: '' },
        utm_medium: ['a', 'b'],
        utm_campaign: 'x'.repeat(201),
        utm_term: 'line\nbreak',
        utm_content: '  ok  ',
      }),
    ).toEqual({ utm_content: 'ok' });
  });

  it('when a referrer has a query, then only its origin and path are kept; non-http referrers are dropped', () => {
    expect(cleanReferrer('https://google.com/search?q=secret')).toBe('https://google.com/search');
    expect(cleanReferrer('javascript:alert(1)')).toBeUndefined();
    expect(cleanReferrer(42)).toBeUndefined();
  });

  it('when touches arrive in any order, then first is the earliest and last the latest (ties by key)', () => {
    const t = (key: string, ms: number) => ({ key, at: new Date(ms), utm_campaign: key });
    const touches = [t('c', 300), t('a', 100), t('b2', 100), t('d', 300)];
    for (const order of [
      touches,
      [...touches].reverse(),
      [touches[2]!, touches[0]!, touches[3]!, touches[1]!],
    ]) {
      const a = attributionOf(order)!;
      expect(a.firstTouch.key).toBe('a');
      expect(a.lastTouch.key).toBe('d');
    }
    expect(attributionOf([])).toBeNull();
    expect(touchView({ at: new Date(1), utm_source: 's', landingPage: undefined })).toEqual({
      at: new Date(1),
      utm_source: 's',
    });
  });
});

describe('beacon bodies', () => {
  const ok = { v: 'x', id: 'abcdefgh12', url: 'https://example.com/' };

  it('when a beacon is a JSON text, urlencoded fields or an object, then it parses', () => {
    expect(parseBeacon(JSON.stringify(ok))).toMatchObject(ok);
    expect(parseBeacon({ ...ok, title: 'Pricing — ünïcode', e: 'page_view' }).title).toBe(
      'Pricing — ünïcode',
    );
  });

  it('when a beacon is hostile or malformed, then it is a 400 naming the problem', () => {
    const cases: unknown[] = [
      '{not json',
      '[1,2]',
      'null',
      { ...ok, v: { $gt: '' } },
      { ...ok, url: 'javascript:alert(1)' },
      { ...ok, url: 'https://example.com/'.padEnd(3000, 'a') },
      { ...ok, id: 'x' },
      { ...ok, title: 'a\u0000b' },
      { ...ok, title: '\ud800' },
      { ...ok, extra: 1 },
      { ...ok, e: 'purchase' },
      { ...ok, title: 'x'.repeat(301) },
    ];
    for (const c of cases) {
      let status: number | undefined;
      try {
        parseBeacon(c);
      } catch (err) {
        status = (err as { status?: number }).status;
      }
      expect(status, JSON.stringify(c).slice(0, 80)).toBe(400);
    }
  });
});
