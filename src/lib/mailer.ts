import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type { Config } from '../config.js';

export type SentInfo = { messageId: string; accepted: string[]; rejected: string[]; response: string };

/** Sends mail through SMTP, or keeps it in the local outbox when no SMTP_URL is set. */
export type Mailer = {
  kind: 'smtp' | 'outbox';
  send(mail: SendMailOptions): Promise<SentInfo>;
  close(): void;
};

function addressesOf(v: unknown): string[] {
  if (!v) return [];
  if (Array.isArray(v)) return v.flatMap(addressesOf);
  if (typeof v === 'string') return [v];
  if (typeof v === 'object' && 'address' in v) return [String((v as { address: string }).address)];
  return [];
}

export function createMailer(
  config: Pick<Config, 'smtpUrl' | 'outboxDir' | 'dkim'> & { smtpTimeoutMs?: number },
): Mailer {
  const dkim = config.dkim;
  if (config.smtpUrl) {
    const url = new URL(config.smtpUrl);
    // Pooled connections: one TLS/SMTP handshake serves many messages.
    const transport: Transporter = nodemailer.createTransport({
      pool: true,
      maxConnections: 5,
      maxMessages: 500,
      // nodemailer waits 10 minutes for a silent server by default: a stalled server would hold
      // a worker's job that long
      socketTimeout: config.smtpTimeoutMs ?? 60_000,
      greetingTimeout: Math.ceil((config.smtpTimeoutMs ?? 60_000) / 2),
      connectionTimeout: Math.ceil((config.smtpTimeoutMs ?? 60_000) / 2),
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 587)),
      secure: url.protocol === 'smtps:',
      auth: url.username
        ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
        : undefined,
      tls: { rejectUnauthorized: url.searchParams.get('tlsRejectUnauthorized') !== 'false' },
      dkim,
    });
    return {
      kind: 'smtp',
      async send(mail) {
        const info = await transport.sendMail(mail);
        return {
          messageId: info.messageId,
          accepted: addressesOf(info.accepted),
          rejected: addressesOf(info.rejected),
          response: info.response ?? '',
        };
      },
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'unix',
    dkim,
  });
  return {
    kind: 'outbox',
    async send(mail) {
      const info = (await transport.sendMail(mail)) as {
        messageId: string;
        message: Buffer;
        envelope: { to: string[] };
      };
      await mkdir(config.outboxDir, { recursive: true });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${info.messageId.replace(/[^A-Za-z0-9.@-]/g, '')}.eml`;
      const tmp = path.join(config.outboxDir, `.${name}.tmp`);
      await writeFile(tmp, info.message);
      await rename(tmp, path.join(config.outboxDir, name));
      return {
        messageId: info.messageId,
        accepted: info.envelope.to,
        rejected: [],
        response: `outbox ${name}`,
      };
    },
    close: () => transport.close(),
  };
}

/** The outbox's messages, newest last. */
export async function listOutbox(outboxDir: string): Promise<{ file: string; raw: Buffer }[]> {
  let names: string[];
  try {
    names = (await readdir(outboxDir)).filter((n) => n.endsWith('.eml')).sort();
  } catch {
    return [];
  }
  return Promise.all(names.map(async (file) => ({ file, raw: await readFile(path.join(outboxDir, file)) })));
}
