import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmailSend } from '../../src/modules/email/send.model.js';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { enqueue } from '../../src/queues/index.js';
import { startEmailWorker } from '../../workers/email.js';
import { useTestEnv } from '../helpers/env.js';
import { startSmtpSink } from '../helpers/smtp.js';

// An independent verifier: Debian's python3-dkim, with DNS answered by the test's own key record.
const verifier = `
import sys, dkim
record = sys.argv[1].encode()
def dnsfunc(name, timeout=5):
    return record if name.rstrip(b".") == b"lf2026._domainkey.acme.test" else None
sys.exit(0 if dkim.verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc) else 1)
`;

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const record = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

function dkimVerifies(raw: Buffer): boolean {
  const r = spawnSync('/usr/bin/python3', ['-c', verifier, record], { input: raw, timeout: 20_000 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`verifier failed: ${String(r.stderr)}`);
  return r.status === 0;
}

const sink = await startSmtpSink();
afterAll(() => sink.close());
const env = useTestEnv({
  SMTP_URL: sink.url,
  MAIL_FROM: 'Acme <news@acme.test>',
  DKIM_DOMAIN: 'acme.test',
  DKIM_SELECTOR: 'lf2026',
  DKIM_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
});
beforeAll(() => {
  startEmailWorker(env.rt);
});

describe('DKIM signing', () => {
  it('when DKIM_* is configured, then a sent email carries a signature an independent verifier accepts, and an altered copy fails', async () => {
    const lead = await Lead.create({
      email: 'dkim@example.test',
      emailKey: 'dkim@example.test',
      firstName: 'Dee',
    });
    const send = await EmailSend.create({
      sendKey: `${String(new Types.ObjectId())}:s1`,
      leadId: lead._id,
      content: { subject: 'Signed for {{lead.firstName}}', template: 'welcome' },
    });
    await enqueue('email', { sendId: String(send._id) }, { jobId: String(send._id) });
    const [mail] = await sink.waitForCount(1);
    expect(mail!.parsed.headers.get('dkim-signature')).toBeTruthy();
    expect(dkimVerifies(mail!.raw)).toBe(true);
    const altered = Buffer.from(String(mail!.raw).replace('Signed for Dee', 'Signed for Eve'));
    expect(dkimVerifies(altered)).toBe(false);
    expect(mail!.parsed.messageId).toBe(`<${String(send._id)}@acme.test>`);
  });
});
