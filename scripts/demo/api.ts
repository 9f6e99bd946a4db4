/** A small client for leadflow's HTTP API, as any outside program would call it. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${JSON.stringify(body).slice(0, 500)}`);
    this.name = 'ApiError';
  }
}

export type Api = {
  base: string;
  call: <T = unknown>(method: string, path: string, body?: unknown, key?: string) => Promise<T>;
  /** like call, but a 404 answers undefined */
  find: <T = unknown>(path: string, key?: string) => Promise<T | undefined>;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits out a 429's or 503's Retry-After (at most 60 s) and tries again, a few times: what the
 * API asks of a client that is too fast or arrives while the server is busy.
 */
export async function withRetryAfter(send: () => Promise<Response>): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const res = await send();
    if ((res.status !== 429 && res.status !== 503) || attempt >= 5) return res;
    const wait = Math.min(Number(res.headers.get('retry-after') ?? '5') || 5, 60);
    process.stdout.write(`  (HTTP ${res.status}: waiting ${wait}s as the server asks)\n`);
    await res.arrayBuffer();
    await sleep(wait * 1000);
  }
}

export function createApi(base: string, adminKey: string): Api {
  async function request(method: string, path: string, body: unknown, key: string) {
    const res = await withRetryAfter(() =>
      fetch(`${base}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${key}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text for the error message
    }
    return { res, parsed };
  }
  return {
    base,
    async call<T>(method: string, path: string, body?: unknown, key = adminKey) {
      const { res, parsed } = await request(method, path, body, key);
      if (!res.ok) throw new ApiError(res.status, parsed, `${method} ${path}`);
      return parsed as T;
    },
    async find<T>(path: string, key = adminKey) {
      const { res, parsed } = await request('GET', path, undefined, key);
      if (res.status === 404) return undefined;
      if (!res.ok) throw new ApiError(res.status, parsed, `GET ${path}`);
      return parsed as T;
    },
  };
}

/** Whether `stored` holds everything `wanted` says (extra fields in `stored` are fine). */
export function contains(stored: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) {
    return (
      Array.isArray(stored) &&
      stored.length === wanted.length &&
      wanted.every((w, i) => contains(stored[i], w))
    );
  }
  if (wanted && typeof wanted === 'object') {
    if (!stored || typeof stored !== 'object') return false;
    const s = stored as Record<string, unknown>;
    return Object.entries(wanted).every(([k, v]) => contains(s[k], v));
  }
  return stored === wanted;
}
