import type { AddressInfo, Socket } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export type SmtpMode = 'ok' | 'refuse' | 'stall' | 'drop';

export type Delivered = {
  messageId: string;
  to: string[];
  /** when the client began this message (MAIL FROM) */
  mailFromAt: number;
  handoffId: string | null;
  unsubscribeUrl: string | null;
  marketing: boolean;
  /** the server kept it but dropped the connection before answering: the sender cannot know */
  dropped: boolean;
};

/**
 * A real SMTP server that can be told to misbehave: `refuse` answers 421 at connection time and to MAIL FROM,
 * `stall` takes the message and never answers (the connection stays open: the sender has to give
 * up by itself), `drop` keeps the message and then cuts the
 * connection before its 250 (the sender cannot know whether it was delivered).
 */
export async function startFaultySmtp() {
  let mode: SmtpMode = 'ok';
  const delivered: Delivered[] = [];
  const stalled = new Set<Socket>();
  const mailFromAt = new Map<string, number>();
  const stats = { refused: 0, stalled: 0, dropped: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    socketTimeout: 120_000,
    onConnect(_session, cb) {
      if (mode === 'refuse') {
        stats.refused++;
        return cb(Object.assign(new Error('421 try again later'), { responseCode: 421 }));
      }
      cb();
    },
    onMailFrom(_address, session, cb) {
      // pooled connections outlive a refusal at connect: refuse each message too
      if (mode === 'refuse') {
        stats.refused++;
        return cb(Object.assign(new Error('421 try again later'), { responseCode: 421 }));
      }
      mailFromAt.set(session.id, Date.now());
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const socket = socketOf(session.id);
        if (mode === 'stall' && socket) {
          stats.stalled++;
          stalled.add(socket);
          return; // never answered; the connection is cut when the stall ends
        }
        void simpleParser(Buffer.concat(chunks)).then((parsed) => {
          const header = (k: string) => {
            const v = parsed.headers.get(k);
            return typeof v === 'string' ? v : null;
          };
          // mailparser turns List-* headers into objects: read the raw line
          const lu = parsed.headerLines.find((h) => h.key === 'list-unsubscribe')?.line ?? null;
          const drop = mode === 'drop' && socket;
          delivered.push({
            messageId: parsed.messageId ?? '',
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            mailFromAt: mailFromAt.get(session.id) ?? Date.now(),
            handoffId: header('x-leadflow-handoff'),
            unsubscribeUrl: lu ? (/<(https?:[^>]+)>/.exec(lu)?.[1] ?? null) : null,
            marketing: lu !== null,
            dropped: Boolean(drop),
          });
          if (drop) {
            stats.dropped++;
            socket.destroy();
            return;
          }
          cb();
        }, cb);
      });
    },
  });
  // smtp-server keeps its connections; the socket of a session is needed to stall or drop it
  const socketOf = (sessionId: string): Socket | undefined => {
    const conns = (server as unknown as { connections: Set<{ id: string; _socket: Socket }> }).connections;
    for (const c of conns) if (c.id === sessionId) return c._socket;
    return undefined;
  };
  // a sender that dies mid-conversation resets its connection; smtp-server emits that as an
  // 'error' on the server, which unhandled would end this process
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    delivered,
    stats,
    get mode() {
      return mode;
    },
    setMode(m: SmtpMode) {
      mode = m;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of stalled) s.destroy();
        server.close(() => resolve());
      }),
  };
}
