import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceivedWebhook = { headers: Record<string, string>; body: string; status: number };

/**
 * A real HTTP server on 127.0.0.1 that receives webhooks. `answer(n)` decides the status of the
 * n-th request (1-based); the default is 200. Each request is kept with its headers and raw body,
 * and the status it was answered with.
 */
export async function startWebhookReceiver(
  opts: { answer?: (n: number, req: http.IncomingMessage) => number } = {},
) {
  const received: ReceivedWebhook[] = [];
  let answer = opts.answer ?? (() => 200);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = answer(received.length + 1, req);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      received.push({ headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    /** changes how later requests are answered */
    setAnswer(fn: (n: number, req: http.IncomingMessage) => number) {
      answer = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
