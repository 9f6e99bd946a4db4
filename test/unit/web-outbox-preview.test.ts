import { describe, expect, it } from 'vitest';
import { inertPreview } from '../../src/web/pages/operations.js';

describe('the outbox preview', () => {
  const base = 'https://leadflow.example';
  const mail = `<p>Hi</p><a href="${base}/t/c/abc.def">Pricing</a> <a href='${base}/t/c/x'>Demo</a>
<a href="https://elsewhere.example/page">Plain</a>
<img src="https://cdn.example/logo.png" alt="logo">
<img src="${base}/t/o/tok.sig" width="1" height="1" alt="" style="display:block" />`;

  it('when a message is shown in the outbox, then its open pixel is gone and tracked links go nowhere; the rest is as sent', () => {
    const out = inertPreview(mail, `${base}/`);
    expect(out).not.toContain('/t/o/');
    expect(out).not.toContain('/t/c/');
    expect(out.match(/href="#"/g)).toHaveLength(2);
    expect(out).toContain('href="https://elsewhere.example/page"');
    expect(out).toContain('src="https://cdn.example/logo.png"');
    expect(out).toContain('<p>Hi</p>');
  });

  it('when the public URL holds regex characters, then they match only themselves', () => {
    const out = inertPreview(
      `<img src="https://a.example/t/o/x"><img src="https://aXexample/t/o/y">`,
      'https://a.example',
    );
    expect(out).toBe('<img src="https://aXexample/t/o/y">');
  });
});
