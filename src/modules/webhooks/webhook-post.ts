import http from 'node:http';
import https from 'node:https';
import { checkLiteralHost, guardedLookup, RefusedTargetError, urlHost } from './address-policy.js';

/** What one attempt gave: a 2xx is a delivery, anything else (or no answer) a failure. */
export type PostOutcome = {
  ok: boolean;
  responseCode: number | null;
  durationMs: number;
  error: string | null;
  responseExcerpt: string | null;
};

/** How much of the receiver's answer is read (the rest is dropped with the connection). */
const maxResponseBytes = 64 * 1024;
const excerptChars = 500;

/**
 * POSTs `body` once: no redirect is followed (a 3xx is a failure, as the specification asks of
 * receivers to answer 2xx), the whole attempt is bounded by `timeoutMs`, and unless
 * `allowPrivate` the target's addresses are checked at connection time (see address-policy.ts).
 */
export async function postWebhook(
  target: string,
  body: string,
  headers: Record<string, string>,
  opts: { timeoutMs: number; allowPrivate: boolean },
): Promise<PostOutcome> {
  const started = performance.now();
  const done = (o: Omit<PostOutcome, 'durationMs'>): PostOutcome => ({
    ...o,
    durationMs: Math.round(performance.now() - started),
  });
  let url: URL;
  try {
    url = new URL(target);
    if (!opts.allowPrivate) checkLiteralHost(urlHost(url));
  } catch (err) {
    return done({ ok: false, responseCode: null, error: refusal(err), responseExcerpt: null });
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<PostOutcome>((resolve) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        signal: AbortSignal.timeout(opts.timeoutMs),
        ...(opts.allowPrivate ? {} : { lookup: guardedLookup }),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        const finish = () => {
          const code = res.statusCode ?? 0;
          const ok = code >= 200 && code < 300;
          const excerpt = Buffer.concat(chunks).toString('utf8').slice(0, excerptChars);
          resolve(
            done({
              ok,
              responseCode: code,
              error: ok
                ? null
                : code >= 300 && code < 400
                  ? `answered ${code}; redirects are not followed`
                  : `answered ${code}`,
              responseExcerpt: excerpt || null,
            }),
          );
        };
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (bytes <= maxResponseBytes) chunks.push(c);
          else {
            res.destroy();
            finish();
          }
        });
        res.on('end', finish);
        res.on('error', finish);
      },
    );
    req.on('error', (err) =>
      resolve(done({ ok: false, responseCode: null, error: refusal(err), responseExcerpt: null })),
    );
    req.end(body);
  });
}

function refusal(err: unknown): string {
  if (err instanceof RefusedTargetError) return `refused: ${err.message}`;
  const e = err as NodeJS.ErrnoException;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  return [e?.code, e?.message].filter(Boolean).join(': ') || String(err);
}
