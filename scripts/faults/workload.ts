import type { Delivered } from './smtp.js';

export const ADMIN_KEY = 'faults-admin-key-0123456789abcdef';
export const THRESHOLD = 40;

export type Tally = {
  /** email → first 2xx answer to a form submission or POST /api/leads */
  ackedEmails: Map<string, number>;
  /** event ids a 202 accepted */
  ackedEventIds: Set<string>;
  /** address → time its unsubscribe was answered 200 */
  unsubscribed: Map<string, number>;
  requests: { ok: number; failed: number; byStatus: Map<string, number> };
  /** told of every answer (0: none) with its latency, e.g. by the soak's sampler */
  observe?: (status: number, ms: number) => void;
};

export const newTally = (): Tally => ({
  ackedEmails: new Map(),
  ackedEventIds: new Set(),
  unsubscribed: new Map(),
  requests: { ok: 0, failed: 0, byStatus: new Map() },
});

async function call(
  tally: Tally | null,
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  let status: number;
  let json: Record<string, unknown> = {};
  const start = performance.now();
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(typeof body === 'string' ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
      redirect: 'manual',
    });
    status = res.status;
    json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  } catch {
    status = 0; // refused, reset or timed out: not acknowledged
  }
  if (tally) {
    tally.observe?.(status, performance.now() - start);
    const k = status === 0 ? 'no answer' : String(status);
    tally.requests.byStatus.set(k, (tally.requests.byStatus.get(k) ?? 0) + 1);
    if (status >= 200 && status < 300) tally.requests.ok++;
    else tally.requests.failed++;
  }
  return { status, body: json };
}

/** What the run configures first: rules, agreement, reps, a webhook, a form and its sequence. */
export async function configure(base: string, webhookUrl: string): Promise<void> {
  const steps: [string, unknown][] = [
    [
      '/api/scoring',
      {
        rules: [
          { id: 'demo', event: 'demo', points: 10 },
          { id: 'visit', event: 'visit', points: 2 },
          { id: 'form', event: 'form_submit', points: 5 },
        ],
      },
    ],
    [
      '/api/qualification',
      { threshold: THRESHOLD, createOpportunity: true, agreedBy: { marketing: 'Mia', sales: 'Sam' } },
    ],
    ['/api/reps/ada', { name: 'Ada', email: 'ada@sales.example' }],
    ['/api/reps/bob', { name: 'Bob', email: 'bob@sales.example' }],
    ['/api/webhooks/crm', { url: webhookUrl, events: ['handoff.created'] }],
    ['/api/forms/faults', { name: 'Faults form' }],
    [
      '/api/sequences/welcome',
      {
        name: 'Welcome',
        enroll: { formIds: ['faults'] },
        steps: [
          {
            id: 'hello',
            wait: '0s',
            subject: 'Hello {{lead.firstName}}',
            html: '<p>Hi <a href="https://example.com/a">there</a></p>',
          },
          {
            id: 'follow',
            wait: '15s',
            subject: 'Still there?',
            html: '<p>More <a href="https://example.com/b">here</a></p>',
          },
        ],
        exitOn: ['unsubscribed'],
      },
    ],
  ];
  for (const [path, body] of steps) {
    const res = await call(null, base, 'PUT', path, body);
    if (res.status !== 200) throw new Error(`PUT ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

const pick = <T>(a: T[]): T => a[Math.floor(Math.random() * a.length)]!;

/**
 * One tick of the mixed workload: form submissions (some for people already known), a lead by the
 * API for a known person, an events batch (some ids repeated), now and then an unsubscribe through
 * a received email's one-click link.
 */
export async function tick(base: string, tally: Tally, delivered: Delivered[], n: number): Promise<void> {
  const known = [...tally.ackedEmails.keys()];
  const work: Promise<unknown>[] = [];
  for (let i = 0; i < 2; i++) {
    const email =
      known.length > 5 && Math.random() < 0.2 ? pick(known) : `p${n}-${i}-${Date.now()}@people.example`;
    work.push(
      call(tally, base, 'POST', '/f/faults', { email, firstName: 'Pat', company: `Co ${n}` }).then((r) => {
        if (r.status === 200 || r.status === 201)
          tally.ackedEmails.set(email, tally.ackedEmails.get(email) ?? Date.now());
      }),
    );
  }
  if (known.length && n % 3 === 0) {
    const email = pick(known).toUpperCase();
    work.push(
      call(tally, base, 'POST', '/api/leads', { email: ` ${email} `, lastName: 'Api' }).then((r) => {
        if (r.status === 200 || r.status === 201) tally.ackedEmails.set(email.toLowerCase(), Date.now());
      }),
    );
  }
  if (known.length) {
    const ids = [...tally.ackedEventIds];
    const events = Array.from({ length: 8 }, (_, i) => ({
      id: ids.length && Math.random() < 0.15 ? pick(ids) : `ev-${n}-${i}-${Date.now().toString(36)}`,
      email: pick(known),
      type: Math.random() < 0.6 ? 'demo' : 'visit',
    }));
    work.push(
      call(tally, base, 'POST', '/api/events', { events }).then((r) => {
        if (r.status !== 202) return;
        const rejected = new Set(((r.body.rejected as { index: number }[]) ?? []).map((x) => x.index));
        events.forEach((e, i) => rejected.has(i) || tally.ackedEventIds.add(e.id));
      }),
    );
  }
  if (n % 12 === 0) {
    const m = delivered.filter((d) => d.unsubscribeUrl && !tally.unsubscribed.has(d.to[0]!)).at(-1);
    if (m) {
      const url = new URL(m.unsubscribeUrl!);
      work.push(
        call(tally, base, 'POST', url.pathname, 'List-Unsubscribe=One-Click', {
          'content-type': 'application/x-www-form-urlencoded',
        }).then((r) => {
          if (r.status === 200) tally.unsubscribed.set(m.to[0]!, Date.now());
        }),
      );
    }
  }
  await Promise.all(work);
}
