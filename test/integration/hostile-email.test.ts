/**
 * The hostile corpus in email: free text that reaches a subject (CR/LF, header lines) and markup
 * that reaches the body, rendered and sent to a real SMTP server. A header is never split, no
 * recipient is added, and markup arrives escaped.
 */
import { Types } from 'mongoose';
import { afterAll, describe, expect, it } from 'vitest';
import { deliverSend } from '../../src/modules/email/index.js';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { makeLead, uid } from '../helpers/factories.js';
import { startSmtpSink, type SinkMessage } from '../helpers/smtp.js';
import { headerInjection, htmlPayloads } from '../fixtures/hostile.js';

const sink = await startSmtpSink();
afterAll(() => sink.close());
const env = useTestEnv({ SMTP_URL: sink.url, MAIL_FROM: 'Acme <news@acme.test>' });
const admin = { Authorization: `Bearer ${ADMIN_KEY}` };

/** The raw header block of a message, as it went over the wire. */
const headerBlock = (m: SinkMessage) => m.raw.toString('utf8').split(/\r\n\r\n/)[0]!;

describe('hostile text in email', { timeout: 60_000 }, () => {
  it('when free text with CR/LF and markup reaches a subject and a body, then no header is split and the markup is escaped', async () => {
    for (const [i, injected] of headerInjection.entries()) {
      const note = `${injected} ${htmlPayloads[i % htmlPayloads.length]}`;
      const lead = await makeLead({ firstName: 'Ann', attributes: { note } });
      const send = await EmailSend.create({
        sendKey: `${uid()}:a`,
        leadId: lead._id,
        enrollmentId: new Types.ObjectId(),
        sequenceKey: 'hostile',
        stepId: 'a',
        content: {
          subject: 'Hi {{lead.firstName}} {{lead.attributes.note}}',
          html: '<p>{{lead.attributes.note}}</p><p><a href="https://example.com/?n={{lead.attributes.note}}">x</a></p>',
          text: 'Note: {{lead.attributes.note}}',
        },
      });
      await deliverSend(env.rt, String(send._id), env.rt.logger);
      const [mail] = await sink.waitForCount(1, (m) => m.envelopeTo.includes(lead.email));
      const what = JSON.stringify(injected);
      // the envelope and the headers name only the lead: nothing injected became a header
      expect(mail!.envelopeTo, what).toEqual([lead.email]);
      const headers = headerBlock(mail!);
      expect(headers, what).not.toMatch(/^(bcc|x-injected|subject: you won)/im);
      expect(
        mail!.parsed.headerLines.filter((h) => h.key === 'subject'),
        what,
      ).toHaveLength(1);
      expect(mail!.parsed.bcc, what).toBeUndefined();
      expect(mail!.parsed.subject ?? '', what).not.toMatch(/[\r\n]/);
      // the markup arrives as text
      const html = String(mail!.parsed.html);
      expect(html, what).not.toMatch(/<script|<img src=x|<svg onload|<a href=javascript/i);
      const payload = htmlPayloads[i % htmlPayloads.length]!;
      // markup is escaped; Handlebars in a lead's text is kept as text, never evaluated
      if (payload.includes('<')) expect(html, what).toContain('&lt;');
      else expect(html, what).toContain('{{constructor.constructor(');
    }
  });

  it('when a rep or an API key is named with a line break or markup, then it is refused (names reach notification headers)', async () => {
    for (const name of [...headerInjection, htmlPayloads[0]!]) {
      const rep = await env
        .http()
        .put(`/api/reps/rep-${uid()}`)
        .set(admin)
        .send({ name, email: 'r@sales.example' });
      expect(rep.status, name).toBe(400);
      expect(JSON.stringify(rep.body.error.details), name).toContain('name');
      const form = await env.http().put(`/api/forms/f-${uid()}`).set(admin).send({ name });
      expect(form.status, name).toBe(400);
    }
  });
});
