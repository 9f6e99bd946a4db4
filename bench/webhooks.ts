/**
 * Webhook delivery: events emitted by emitWebhookEvent and delivered through the real `webhook`
 * queue and worker to a local receiver, per second, against raw signed POSTs of the same body to
 * the same receiver (same concurrency, no queue, no store) in the same run; and the latency of
 * emitWebhookEvent itself (what the handoff path pays per event).
 *
 *   npx tsx bench/webhooks.ts [--n 500] [--concurrency 8] [--webhooks 1]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import mongoose from 'mongoose';
import { loadConfig, type ReadyConfig } from '../src/config.js';
import { createLogger } from '../src/lib/logger.js';
import { connectRuntime } from '../src/lib/runtime.js';
import { shutdown } from '../src/lib/shutdown.js';
import {
  emitWebhookEvent,
  generateSecret,
  signPayload,
  Webhook,
  WebhookDelivery,
} from '../src/modules/webhooks/index.js';
import { postWebhook } from '../src/modules/webhooks/index.js';
import { startWebhookWorker } from '../workers/webhook.js';
import { deleteQueueKeys } from './helpers.js';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write('usage: npx tsx bench/webhooks.ts [--n 500] [--concurrency 8] [--webhooks 1]\n');
  process.exit(0);
}
const arg = (name: string, def: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const N = arg('n', 500);
const CONCURRENCY = arg('concurrency', 8);
const WEBHOOKS = arg('webhooks', 1);
const out = (s: string) => process.stdout.write(`${s}\n`);

const data = {
  id: '64b7f0c2a1b2c3d4e5f60718:1',
  leadId: '64b7f0c2a1b2c3d4e5f60718',
  ownerId: 'rep-ada',
  status: 'pending',
  accountId: '64b7f0c2a1b2c3d4e5f60719',
  contactId: '64b7f0c2a1b2c3d4e5f6071a',
  opportunityId: '64b7f0c2a1b2c3d4e5f6071b',
  qualifiedAt: new Date().toISOString(),
  agreementVersion: 3,
};

async function startReceiver() {
  let received = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received: () => received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The same signed body POSTed `n` times with the product's own postWebhook, 8 in flight. */
async function baseline(url: string, n: number): Promise<number> {
  const secret = generateSecret();
  const body = JSON.stringify({ type: 'handoff.created', timestamp: new Date().toISOString(), data });
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const id = `base:${next++}`;
        const ts = Math.floor(Date.now() / 1000);
        const headers = {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(ts),
          'webhook-signature': signPayload(secret, id, ts, body),
        };
        const o = await postWebhook(url, body, headers, { timeoutMs: 10_000, allowPrivate: true });
        if (!o.ok) throw new Error(`baseline POST failed: ${o.error}`);
      }
    }),
  );
  return performance.now() - start;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function main() {
  const root = path.resolve(import.meta.dirname, '..');
  const services = execFileSync('bash', [path.join(root, 'scripts/services.sh'), 'up'], { encoding: 'utf8' });
  const get = (k: string) => new RegExp(`^${k}=(.+)$`, 'm').exec(services)![1]!.trim();
  const receiver = await startReceiver();
  const id = randomBytes(4).toString('hex');
  const config = loadConfig({
    MONGODB_URI: get('MONGODB_URI'),
    REDIS_URL: get('REDIS_URL'),
    QUEUE_PREFIX: `bench-${id}`,
    LOG_LEVEL: 'silent',
    WORKER_CONCURRENCY: String(CONCURRENCY),
    WEBHOOK_ALLOW_PRIVATE: 'true',
  }) as ReadyConfig;
  const rt = await connectRuntime(config, createLogger('silent', 'bench'), { dbName: `bench_${id}` });
  try {
    out(
      `webhook benchmark: N=${N} events x ${WEBHOOKS} webhook(s), concurrency ${CONCURRENCY}, node ${process.version}`,
    );
    await baseline(receiver.url, 50); // warm-up
    const total = N * WEBHOOKS;
    out(`baseline: ${total} signed POSTs, no queue or store`);
    const baseRate = (total / (await baseline(receiver.url, total))) * 1000;

    for (let w = 0; w < WEBHOOKS; w++) {
      await Webhook.create({
        _id: `bench-${w}`,
        url: receiver.url,
        events: ['handoff.created'],
        secret: generateSecret(),
      });
    }
    const before = receiver.received();
    out(`leadflow: emitting ${N} events (one at a time, as the handoff worker does), worker running`);
    startWebhookWorker(rt);
    const t0 = performance.now();
    const emitMs: number[] = [];
    for (let i = 0; i < N; i++) {
      const s = performance.now();
      await emitWebhookEvent({ type: 'handoff.created', eventId: `handoff.created:bench-${i}`, data });
      emitMs.push(performance.now() - s);
      if ((i + 1) % 100 === 0) out(`  emitted ${i + 1}/${N}, delivered ${receiver.received() - before}`);
    }
    let last = performance.now();
    while (receiver.received() - before < total) {
      await new Promise((r) => setTimeout(r, 50));
      if (performance.now() - last > 5000) {
        out(`  delivered ${receiver.received() - before}/${total}`);
        last = performance.now();
      }
    }
    const ms = performance.now() - t0;
    const succeeded = await WebhookDelivery.countDocuments({ status: 'succeeded' });
    const rate = (total / ms) * 1000;
    emitMs.sort((a, b) => a - b);
    out('');
    out('| measure | result | vs baseline |');
    out('|---|---|---|');
    out(`| raw signed POSTs (postWebhook, ${CONCURRENCY} in flight) | ${baseRate.toFixed(0)}/s | 100% |`);
    out(
      `| emit → queue → worker → receiver, end to end | ${rate.toFixed(0)}/s | ${((rate / baseRate) * 100).toFixed(0)}% |`,
    );
    out(
      `| emitWebhookEvent latency p50 / p99 | ${pct(emitMs, 50).toFixed(1)} / ${pct(emitMs, 99).toFixed(1)} ms | |`,
    );
    out(`(deliveries recorded as succeeded: ${succeeded} of ${total})`);
  } finally {
    await mongoose.connection.db?.dropDatabase().catch(() => undefined);
    await shutdown(rt.logger, 20_000);
    await deleteQueueKeys(config.redisUrl, config.queuePrefix);
    await receiver.close();
  }
}

await main();
process.exit(0);
