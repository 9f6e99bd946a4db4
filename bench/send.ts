/**
 * Sending throughput: emails rendered, tracked and delivered per second through the real `email`
 * queue and deliverSend on one worker, into a local SMTP sink, against raw pooled nodemailer sending
 * one pre-rendered message to the same sink in the same run. Then: how long a burst of sends all
 * falling due at once takes to drain (10,000, or fewer when the store is too slow; extrapolated).
 *
 *   npx tsx bench/send.ts [--n 2000] [--burst 10000] [--concurrency 8] [--burst-minutes 5]
 *                         [--existing 1000,100000]
 *
 * With --existing, the delivery rate is measured again after the store already holds that many
 * leads and as many earlier sends, seeded with raw insertMany in batches of 1,000, with progress.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import mongoose, { Types } from 'mongoose';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import type { ReadyConfig } from '../src/config.js';
import { createLogger } from '../src/lib/logger.js';
import { connectRuntime } from '../src/lib/runtime.js';
import { shutdown } from '../src/lib/shutdown.js';
import { EmailSend, renderEmail } from '../src/modules/email/index.js';
import { Lead } from '../src/modules/leads/index.js';
import { Suppression } from '../src/modules/suppression/index.js';
import { enqueueBulk } from '../src/queues/index.js';
import { startEmailWorker } from '../workers/email.js';
import { benchArgs, benchConfig, deleteQueueKeys, progress } from './helpers.js';

const args = benchArgs(
  `Sending throughput: sends rendered, tracked and delivered through the email queue and deliverSend
into a local SMTP sink, against raw pooled nodemailer into the same sink; then how long a burst
of sends falling due at once takes to drain.

usage: npx tsx bench/send.ts [options]`,
  {
    n: { default: 2000, help: 'sends measured against the raw nodemailer baseline' },
    burst: { default: 10_000, help: 'sends in the burst (fewer when the store is too slow; extrapolated)' },
    concurrency: { default: 8, help: 'email worker concurrency' },
    'burst-minutes': { default: 5, help: 'deadline for draining the burst' },
    existing: { default: [1000, 100_000], help: 'leads and earlier sends stored, a list (0: skip)' },
  },
);
const N = args.n;
const BURST = args.burst;
const CONCURRENCY = args.concurrency;
const BURST_MINUTES = args['burst-minutes'];
const EXISTING = args.existing.filter((n) => n > 0).sort((a, b) => a - b);
const DRAIN_BUDGET_MS = 100_000;
const out = (s: string) => process.stdout.write(`${s}\n`);

const content = {
  subject: 'Hello {{fallback lead.firstName "there"}}',
  html: `<p>Hi {{lead.firstName}} from {{lead.company}},</p>
<p>Read <a href="https://example.com/guide?utm=1">the guide</a>, see <a href="https://example.com/pricing">pricing</a>
or <a href="https://example.com/demo">book a demo</a>.</p>`,
};

async function startSink() {
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _s, cb) {
      stream.on('end', () => {
        received++;
        cb();
      });
      stream.resume();
    },
  });
  // a sender that dies mid-conversation resets its connection; smtp-server emits that as an
  // 'error' on the server, which unhandled would end this process
  server.on('error', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    received: () => received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Raw nodemailer, same pool settings as the product's mailer, one pre-rendered message, 8 in flight. */
async function baseline(port: number, n: number, message: SendMailOptions): Promise<number> {
  const t = nodemailer.createTransport({
    pool: true,
    maxConnections: 5,
    maxMessages: 500,
    host: '127.0.0.1',
    port,
    secure: false,
  });
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < n) {
        next++;
        await t.sendMail(message);
      }
    }),
  );
  const ms = performance.now() - start;
  t.close();
  return ms;
}

/**
 * The store's floor: the MongoDB round trips one delivery makes (read send, read lead, suppression
 * check, claim insert, status update, sent update, event insert), 8 in flight, without queue,
 * rendering or SMTP. No sending path can beat this on the same server.
 */
async function storeFloor(n: number): Promise<number> {
  const db = mongoose.connection.db!;
  const a = db.collection('floor_sends');
  const b = db.collection('floor_claims');
  const ids = Array.from({ length: n }, () => new Types.ObjectId());
  await a.insertMany(ids.map((_id) => ({ _id, status: 'pending', blob: 'x'.repeat(800) })));
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < n) {
        const _id = ids[next++]!;
        await a.findOne({ _id });
        await a.findOne({ _id });
        await Suppression.exists({ emailHash: 'nobody' });
        await b.insertOne({ _id, owner: 'x' });
        await a.updateOne({ _id }, { $set: { status: 'sending' } });
        await a.updateOne({ _id }, { $set: { status: 'sent' } });
        await b.insertOne({ _id: new Types.ObjectId(), owner: 'event' });
      }
    }),
  );
  return performance.now() - start;
}

/** Seeds `n` leads with one send each; pending and enqueued, or (`history`) already sent. */
async function seed(n: number, tag: string, history = false): Promise<Types.ObjectId[]> {
  const leads = Array.from({ length: n }, (_, i) => {
    const email = `bench-${tag}-${i}@example.test`;
    return {
      _id: new Types.ObjectId(),
      email,
      emailKey: email,
      firstName: `Lead${i}`,
      company: 'Acme <Inc>',
    };
  });
  for (let i = 0; i < n; i += 1000) {
    await Lead.collection.insertMany(leads.slice(i, i + 1000));
    if (history && (i / 1000) % 20 === 19) progress(`seeding ${tag}: ${i + 1000} of ${n} leads`);
  }
  const now = new Date();
  const sends = leads.map((l) => ({
    _id: new Types.ObjectId(),
    sendKey: `${tag}:${String(l._id)}`,
    leadId: l._id,
    enrollmentId: null,
    sequenceKey: 'bench',
    sequenceVersion: 1,
    stepId: 'hello',
    variant: null,
    content: { ...content, text: null, template: null },
    marketing: true,
    status: history ? 'sent' : 'pending',
    messageId: null,
    attempts: 0,
    error: null,
    sentAt: null,
    openedAt: null,
    clickedAt: null,
    createdAt: now,
    updatedAt: now,
  }));
  for (let i = 0; i < n; i += 1000) {
    await EmailSend.collection.insertMany(sends.slice(i, i + 1000));
    if (history && (i / 1000) % 20 === 19) progress(`seeding ${tag}: ${i + 1000} of ${n} earlier sends`);
  }
  const ids = sends.map((x) => x._id);
  if (history) return ids;
  for (let i = 0; i < n; i += 1000) {
    await enqueueBulk(
      'email',
      sends
        .slice(i, i + 1000)
        .map((s) => ({ payload: { sendId: String(s._id) }, opts: { jobId: String(s._id) } })),
    );
  }
  return ids;
}

/**
 * Waits until the sink has received `n` more messages than `from`, printing progress, then until
 * MongoDB says they are all `sent` (polling the store itself would slow down what it measures).
 */
async function drain(
  sink: { received: () => number },
  tag: string,
  ids: Types.ObjectId[],
  from: number,
  n: number,
  start: number,
  deadlineMs: number,
): Promise<{ ms: number; done: number }> {
  let lastPrint = performance.now();
  while (sink.received() - from < n && performance.now() - start < deadlineMs) {
    await new Promise((r) => setTimeout(r, 50));
    const now = performance.now();
    if (now - lastPrint > 5000) {
      const got = sink.received() - from;
      out(`  ${tag}: ${got}/${n} delivered (${((got / (now - start)) * 1000).toFixed(0)}/s)`);
      lastPrint = now;
    }
  }
  let done = 0;
  while (performance.now() - start < deadlineMs + 30_000) {
    done = await countSent(ids);
    if (done >= n) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { ms: performance.now() - start, done };
}

/** How many of these sends are `sent` (`_id` reads in chunks: no scan of the stored history). */
async function countSent(ids: Types.ObjectId[]): Promise<number> {
  let sent = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    sent += await EmailSend.countDocuments({ _id: { $in: ids.slice(i, i + 1000) }, status: 'sent' });
  }
  return sent;
}

async function main() {
  const sink = await startSink();
  const id = randomBytes(4).toString('hex');
  const config = benchConfig({
    SMTP_URL: sink.url,
    QUEUE_PREFIX: `bench-${id}`,
    PUBLIC_URL: 'https://leadflow.example',
    TRACKING_SECRET: 'bench-tracking-secret-0123456789',
    MAIL_FROM: 'Acme <news@acme.example>',
    LOG_LEVEL: 'silent',
    WORKER_CONCURRENCY: String(CONCURRENCY),
  }) as ReadyConfig;
  const rt = await connectRuntime(config, createLogger('silent', 'bench'), { dbName: `bench_${id}` });
  const rows: [string, string, string][] = [];
  try {
    out(
      `send benchmark: N=${N}, burst=${BURST}, worker concurrency ${config.workerConcurrency}, node ${process.version}`,
    );
    const pre = await renderEmail(rt, {
      lead: { firstName: 'Ada', company: 'Acme' },
      content,
      sendId: String(new Types.ObjectId()),
      marketing: true,
    });
    const { 'Message-ID': _mid, ...headers } = pre.headers;
    const message = {
      from: config.mailFrom,
      to: 'ada@example.test',
      subject: pre.subject,
      html: pre.html,
      text: pre.text,
      headers,
    };
    await baseline(sink.port, 200, message); // warm-up
    out(`baseline: raw pooled nodemailer, ${N} pre-rendered messages`);
    const baseMs = await baseline(sink.port, N, message);
    const baseRate = (N / baseMs) * 1000;
    rows.push(['raw nodemailer (pre-rendered)', `${baseRate.toFixed(0)}/s`, '100%']);

    const floorN = Math.min(N, 300);
    out(`store floor: ${floorN} deliveries' worth of MongoDB round trips`);
    const floorRate = (floorN / (await storeFloor(floorN))) * 1000;
    rows.push([
      'store round trips only (floor)',
      `${floorRate.toFixed(0)}/s`,
      `${((floorRate / baseRate) * 100).toFixed(0)}%`,
    ]);

    out(`leadflow: seeding ${N} leads and sends, enqueued at once`);
    const tputIds = await seed(N, 'tput');
    const worker = startEmailWorker(rt);
    const t0 = performance.now();
    const r1 = await drain(sink, 'tput', tputIds, sink.received(), N, t0, 10 * 60_000);
    const rate = (r1.done / r1.ms) * 1000;
    rows.push([
      'leadflow queue + deliverSend',
      `${rate.toFixed(0)}/s`,
      `${((rate / baseRate) * 100).toFixed(0)}%`,
    ]);

    // the same delivery rate once the store holds many leads and earlier sends
    let stored = 0;
    for (const size of EXISTING) {
      await worker.pause();
      out(`existing: topping the store up to ${size} leads and ${size} earlier sends`);
      await seed(size - stored, `hist${size}`, true);
      stored = size;
      const before = sink.received();
      const ids = await seed(N, `tput${size}`);
      worker.resume();
      const t = performance.now();
      const r = await drain(sink, `tput${size}`, ids, before, N, t, 10 * 60_000);
      const rs = (r.done / r.ms) * 1000;
      rows.push([
        `leadflow queue + deliverSend, ${size.toLocaleString('en')} leads and sends stored`,
        `${rs.toFixed(0)}/s`,
        `${((rs / baseRate) * 100).toFixed(0)}% (${((rs / rate) * 100).toFixed(0)}% of the rate on an empty store)`,
      ]);
    }

    const burst = Math.min(BURST, Math.max(100, Math.floor((rate * DRAIN_BUDGET_MS) / 1000)));
    out(`drain: seeding ${burst} sends falling due at once`);
    // the worker waits while the burst is written and enqueued, then finds it all due at once
    await worker.pause();
    const before = sink.received();
    const burstIds = await seed(burst, 'burst');
    worker.resume();
    const t1 = performance.now();
    const r2 = await drain(sink, 'burst', burstIds, before, burst, t1, BURST_MINUTES * 60_000);
    const drainS = r2.ms / 1000;
    rows.push([
      `drain ${r2.done} due at once`,
      `${drainS.toFixed(1)} s`,
      `${((r2.done / r2.ms) * 1000).toFixed(0)}/s`,
    ]);
    if (burst < BURST) {
      rows.push([`drain ${BURST} (extrapolated)`, `${((drainS * BURST) / r2.done).toFixed(0)} s`, 'linear']);
    }
    const delivered = sink.received();
    out('');
    out('| measure | result | vs baseline / rate |');
    out('|---|---|---|');
    for (const r of rows) out(`| ${r.join(' | ')} |`);
    out(`(sink received ${delivered} messages in total, including ${N + 200} baseline)`);
  } finally {
    await mongoose.connection.db?.dropDatabase().catch(() => undefined);
    await shutdown(rt.logger, 20_000);
    await deleteQueueKeys(config.redisUrl, config.queuePrefix);
    await sink.close();
  }
}

await main();
process.exit(0);
