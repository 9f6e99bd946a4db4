import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createMailer, listOutbox } from '../../src/lib/mailer.js';
import { root } from '../helpers/processes.js';
import { startSmtpSink } from '../helpers/smtp.js';

const run = promisify(execFile);

describe('mailer', () => {
  it('when SMTP_URL is set, then mail goes through pooled SMTP to that server', async () => {
    const sink = await startSmtpSink();
    const mailer = createMailer({ smtpUrl: sink.url, outboxDir: '/nonexistent', dkim: undefined });
    try {
      const info = await mailer.send({
        from: 'a@leadflow.test',
        to: 'ann@example.com',
        subject: 'Hello',
        text: 'Hi Ann',
      });
      expect(info.accepted).toEqual(['ann@example.com']);
      const [msg] = await sink.waitForCount(1);
      expect(msg?.parsed.subject).toBe('Hello');
      expect(msg?.parsed.text?.trim()).toBe('Hi Ann');
      expect(msg?.parsed.messageId).toBe(info.messageId);
    } finally {
      mailer.close();
      await sink.close();
    }
  });

  it('when SMTP_URL is unset, then mail is kept as .eml in the outbox and `leadflow outbox` lists it', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'leadflow-outbox-'));
    const mailer = createMailer({
      smtpUrl: undefined,
      outboxDir: path.join(dataDir, 'outbox'),
      dkim: undefined,
    });
    await mailer.send({
      from: 'a@leadflow.test',
      to: 'bob@example.com',
      subject: 'Outbox check',
      text: 'Kept locally',
    });
    const kept = await listOutbox(path.join(dataDir, 'outbox'));
    expect(kept).toHaveLength(1);
    expect(kept[0]?.file).toMatch(/\.eml$/);
    expect(kept[0]?.raw.toString()).toContain('Subject: Outbox check');
    const env = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir };
    const list = await run(path.join(root, 'bin/leadflow'), ['outbox'], { env });
    expect(list.stdout).toContain('1 message(s)');
    expect(list.stdout).toContain('bob@example.com');
    expect(list.stdout).toContain('Outbox check');
    const show = await run(path.join(root, 'bin/leadflow'), ['outbox', '--show', '1'], { env });
    expect(show.stdout).toContain('Kept locally');
  });
});
