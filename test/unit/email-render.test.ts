import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { renderEmail } from '../../src/modules/email/render.js';
import { signToken, verifyToken } from '../../src/modules/email/tokens.js';

const secret = 'unit-test-secret-0123456789';
const config = loadConfig({ PUBLIC_URL: 'https://lf.example', MAIL_FROM: 'Team <news@mail.example>' });
const rt = { config, trackingSecret: secret };
const sendId = '65a1b2c3d4e5f60718293a4b';

describe('tracking tokens', () => {
  it('when a token is signed, then it verifies to the same payload', () => {
    const t = signToken(secret, { kind: 'click', sendId, url: 'https://example.com/a?b=1:2' });
    expect(verifyToken(secret, t)).toEqual({ kind: 'click', sendId, url: 'https://example.com/a?b=1:2' });
    expect(verifyToken(secret, signToken(secret, { kind: 'open', sendId }))).toEqual({
      kind: 'open',
      sendId,
    });
  });
  it('when a token is altered, forged or signed with another secret, then it does not verify', () => {
    const t = signToken(secret, { kind: 'click', sendId, url: 'https://example.com/' });
    const [body, mac] = t.split('.') as [string, string];
    const evil = Buffer.from(`c:${sendId}:https://evil.example/`).toString('base64url');
    expect(verifyToken(secret, `${evil}.${mac}`)).toBeUndefined();
    expect(verifyToken(secret, `${body}.${mac.slice(0, -2)}AA`)).toBeUndefined();
    expect(verifyToken('another-secret-0123456789', t)).toBeUndefined();
    expect(verifyToken(secret, 'garbage')).toBeUndefined();
    expect(verifyToken(secret, `${body}.${mac}.x`)).toBeUndefined();
  });
  it('when a click token would carry a javascript: URL, then it does not verify', () => {
    const t = signToken(secret, { kind: 'click', sendId, url: 'javascript:alert(1)' });
    expect(verifyToken(secret, t)).toBeUndefined();
  });
});

describe('renderEmail', () => {
  it('when a lead name carries HTML and CR/LF, then the HTML is escaped and the subject has no line break', async () => {
    const out = await renderEmail(rt, {
      lead: { email: 'a@b.example', firstName: '<script>alert(1)</script>\r\nBcc: x@evil.example' },
      content: { subject: 'Hi {{lead.firstName}}', html: '<p>Hello {{lead.firstName}}</p>' },
      sendId,
      marketing: true,
    });
    expect(out.html).not.toContain('<script>');
    expect(out.html).toContain('&lt;script&gt;');
    expect(out.subject).not.toMatch(/[\r\n]/);
    expect(out.subject).toBe('Hi <script>alert(1)</script> Bcc: x@evil.example');
  });
  it('when a sendId is given, then every http link is a signed click link and a pixel and headers are added', async () => {
    const out = await renderEmail(rt, {
      lead: { email: 'a@b.example', firstName: 'Ann' },
      content: {
        subject: 'Hi',
        html: '<a href="https://example.com/x?a=1&amp;b=2">x</a> <a href=\'http://example.org\'>y</a> <a href="mailto:q@example.com">m</a>',
      },
      sendId,
      marketing: true,
    });
    const hrefs = [...out.html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    const clicks = hrefs.filter((h) => h.startsWith('https://lf.example/t/c/'));
    expect(clicks).toHaveLength(2);
    const urls = clicks.map((h) => verifyToken(secret, h.split('/t/c/')[1]!));
    expect(urls).toEqual([
      { kind: 'click', sendId, url: 'https://example.com/x?a=1&b=2' },
      { kind: 'click', sendId, url: 'http://example.org' },
    ]);
    expect(hrefs).toContain('mailto:q@example.com');
    expect(out.html).toMatch(/<img src="https:\/\/lf\.example\/t\/o\/[^"]+"/);
    expect(out.headers['List-Unsubscribe']).toMatch(/^<https:\/\/lf\.example\/u\/[^>]+>$/);
    expect(out.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(out.headers['Message-ID']).toBe(`<${sendId}@mail.example>`);
    expect(out.text).toContain('https://lf.example/t/c/');
    expect(out.text).not.toContain('https://example.com/x');
  });
  it('when rendering the welcome template without a first name, then the fallback and both parts appear', async () => {
    const out = await renderEmail(rt, {
      lead: { email: 'a@b.example' },
      content: { subject: 'Welcome', template: 'welcome' },
      marketing: true,
    });
    expect(out.html).toContain('Welcome, there!');
    expect(out.text).toContain('Welcome, there!');
    expect(out.html).toContain('https://example.com/getting-started');
    expect(out.html).not.toContain('/t/o/');
    expect(out.text).toContain('https://lf.example/u/preview');
    expect(out.headers['Message-ID']).toBeUndefined();
  });
  it('when a template name tries to leave templates/, then it is refused with a 400', async () => {
    for (const template of ['../../package', '/etc/passwd', 'a/../../b', 'nope']) {
      await expect(
        renderEmail(rt, { lead: {}, content: { subject: 's', template }, marketing: false }),
      ).rejects.toMatchObject({ status: 400 });
    }
  });
  it('when an inline template does not compile, then it is a 400, not a crash', async () => {
    await expect(
      renderEmail(rt, { lead: {}, content: { subject: 's', html: '{{#if}}' }, marketing: false }),
    ).rejects.toMatchObject({ status: 400 });
  });
  it('when mail is not marketing, then it has no unsubscribe link or headers', async () => {
    const out = await renderEmail(rt, {
      lead: { firstName: 'Bo' },
      content: { subject: 's', html: '<p>hi {{lead.firstName}}</p>' },
      sendId,
      marketing: false,
    });
    expect(out.headers['List-Unsubscribe']).toBeUndefined();
    expect(out.html).not.toContain('/u/');
    expect(out.text).toContain('hi Bo');
  });
});
