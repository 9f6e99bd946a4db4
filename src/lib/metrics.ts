import client from 'prom-client';

/** The process's Prometheus registry; `/metrics` serves it. */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

export const httpDuration = new client.Histogram({
  name: 'leadflow_http_request_duration_seconds',
  help: 'HTTP request duration by route and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const queueDepth = new client.Gauge({
  name: 'leadflow_queue_jobs',
  help: 'Jobs per queue and state, read from Redis when scraped',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});

/** Counters that domain areas increment; created on first use so each area owns its names. */
const counters = new Map<string, client.Counter<string>>();
export function counter(name: string, help: string, labelNames: string[] = []): client.Counter<string> {
  let c = counters.get(name);
  if (!c) {
    c = new client.Counter({ name, help, labelNames, registers: [registry] });
    counters.set(name, c);
  }
  return c;
}
