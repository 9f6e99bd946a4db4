import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo, Socket } from 'node:net';
import { waitFor } from './wait.js';

export type SinkMessage = { raw: Buffer; parsed: ParsedMail; envelopeTo: string[] };

/**
 * A real SMTP server on loopback that keeps what it receives, parsed with mailparser.
 * `reject` decides per recipient: return an SMTP code (e.g. 550) to refuse it. `dropAfterData`
 * keeps the message of such a recipient and then cuts the connection before answering it (the
 * sender cannot know whether it was delivered).
 */
export async function startSmtpSink(
  opts: {
    reject?: (rcpt: string) => number | undefined;
    dropAfterData?: (rcpt: string) => boolean;
    /** takes the message of such a recipient and never answers */
    stallAfterData?: (rcpt: string) => boolean;
  } = {},
) {
  const messages: SinkMessage[] = [];
  const stalled: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, cb) {
      const code = opts.reject?.(address.address);
      if (code) {
        const err = Object.assign(new Error(`${code} recipient refused`), { responseCode: code });
        cb(err);
        return;
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            const envelopeTo = session.envelope.rcptTo.map((r) => r.address);
            messages.push({ raw, parsed, envelopeTo });
            if (envelopeTo.some((r) => opts.stallAfterData?.(r))) {
              stalled.push(session.id);
              return;
            }
            if (envelopeTo.some((r) => opts.dropAfterData?.(r))) {
              const conns = (server as unknown as { connections: Set<{ id: string; _socket: Socket }> })
                .connections;
              for (const c of conns) if (c.id === session.id) c._socket.destroy();
              return;
            }
            cb();
          },
          (err: Error) => cb(err),
        );
      });
    },
  });
  // a sender that dies mid-conversation resets its connection; smtp-server emits that as an
  // 'error' on the server, which unhandled would end this process
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    /** waits until `n` messages (optionally matching) have arrived */
    waitForCount: (n: number, filter: (m: SinkMessage) => boolean = () => true, timeout = 15_000) =>
      waitFor(() => (messages.filter(filter).length >= n ? messages.filter(filter) : undefined), {
        timeout,
        what: `${n} email(s)`,
      }),
    close: () =>
      new Promise<void>((resolve) => {
        // a stalled session would hold close() for smtp-server's 30 s close timeout
        const conns = (server as unknown as { connections: Set<{ id: string; _socket: Socket }> })
          .connections;
        for (const c of conns) if (stalled.includes(c.id)) c._socket.destroy();
        server.close(() => resolve());
      }),
  };
}
