/**
 * Scoring throughput, end to end: events posted to `POST /api/events` (a real listening server)
 * until every award is in the ledger and every lead's score is stored, against, in the same run and
 * on the same servers: BullMQ no-op processing of one job per event, and a raw driver bulk insert
 * of the same ledger entries. Then the time of one decay pass over `--decay-leads` leads with a
 * positive score, with the method of the 1,000,000-lead extrapolation printed.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import mongoose from 'mongoose';
import type { ReadyConfig } from '../src/config.js';
import { buildApp } from '../src/app.js';
import { createLogger } from '../src/lib/logger.js';
import { connectRuntime } from '../src/lib/runtime.js';
import { runWorker, workerOptions } from '../src/lib/worker.js';
import { shutdown } from '../src/lib/shutdown.js';
import { emailKey, Lead } from '../src/modules/leads/index.js';
import { LeadEvent } from '../src/modules/events/index.js';
import { putRuleset, ScoreEntry, scoringProcessor, startDecayPass } from '../src/modules/scoring/index.js';
import { enqueueBulk, getQueue } from '../src/queues/index.js';
import { benchArgs, benchConfig, deleteQueueKeys, progress } from './helpers.js';

const args = benchArgs(
  `Scoring: events per second from POST /api/events until the score is stored, against BullMQ
no-op processing and a raw bulk insert of the same ledger entries (same run); then one decay pass.

usage: npx tsx bench/scoring.ts [options]`,
  {
    events: { default: 2000, help: 'events posted end to end' },
    leads: { default: 200, help: 'leads the events are spread over' },
    batch: { default: 500, help: 'events per POST /api/events' },
    'decay-leads': { default: 2000, help: 'leads with a positive score in the decay pass (0: skip)' },
  },
);

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 3_600_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));

async function insertLeads(n: number, tag: string, extra: Record<string, unknown> = {}) {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1000) {
    const docs = await Lead.insertMany(
      Array.from({ length: Math.min(1000, n - i) }, (_, k) => {
        const email = `${tag}-${i + k}@bench.example`;
        return { email, emailKey: emailKey(email), ...extra };
      }),
      { lean: true },
    );
    ids.push(...docs.map((d) => String(d._id)));
    if (n > 5000) progress(`${tag}: ${ids.length}/${n} leads inserted`);
  }
  return ids;
}

async function main() {
  const id = randomBytes(4).toString('hex');
  const config = benchConfig({ QUEUE_PREFIX: `bench-${id}`, LOG_LEVEL: 'silent' }) as ReadyConfig;
  const rt = await connectRuntime(config, createLogger('silent', 'bench'), { dbName: `bench_${id}` });
  const key = config.adminApiKey ?? 'bench-admin-key-0123456789';
  if (!config.adminApiKey) Object.assign(config, { adminApiKey: key });
  const server = buildApp(rt).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // 1. BullMQ no-op: one job per event, the least a queue-driven pipeline costs
  let noop = 0;
  runWorker('maintenance', async () => void noop++, workerOptions(rt));
  let t = performance.now();
  for (let i = 0; i < args.events; i += 1000) {
    const n = Math.min(1000, args.events - i);
    await enqueueBulk(
      'maintenance',
      Array.from({ length: n }, () => ({ payload: { task: 'heartbeat' as const } })),
    );
  }
  await until(() => noop >= args.events, 'no-op jobs');
  const noopMs = performance.now() - t;
  progress(`BullMQ no-op: ${args.events} jobs in ${Math.round(noopMs)} ms`);

  // 2. end to end through the API and the scoring worker
  await putRuleset(
    {
      rules: [
        { id: 'view', event: 'page_view', points: 1 },
        { id: 'pricing', event: 'page_view', where: { path: '/pricing' }, points: 5, maxPerDay: 3 },
      ],
      decay: { halfLife: '30d' },
    },
    null,
  );
  const leads = await insertLeads(args.leads, 'e2e');
  let scored = 0;
  runWorker('scoring', scoringProcessor(rt), workerOptions(rt)).on(
    'completed',
    (_job, r: { scored?: number }) => {
      scored += r?.scored ?? 0;
    },
  );
  await until(
    async () => (await getQueue('scoring').getJobCounts('waiting', 'active')).active === 0,
    'rescore run',
  );
  scored = 0;
  t = performance.now();
  const posts: Promise<unknown>[] = [];
  for (let i = 0; i < args.events; i += args.batch) {
    const events = Array.from({ length: Math.min(args.batch, args.events - i) }, (_, k) => ({
      leadId: leads[(i + k) % leads.length],
      type: 'page_view',
      properties: { path: (i + k) % 4 === 0 ? '/pricing' : '/blog' },
    }));
    posts.push(
      fetch(`${base}/api/events`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ events }),
      }).then(async (r) => {
        if (r.status !== 202) throw new Error(`POST /api/events: ${r.status} ${await r.text()}`);
      }),
    );
    if (posts.length >= 4) await Promise.all(posts.splice(0));
  }
  await Promise.all(posts);
  const acceptedMs = performance.now() - t;
  progress(`accepted ${args.events} events in ${Math.round(acceptedMs)} ms; scoring...`);
  let last = 0;
  await until(() => {
    if (scored - last >= 500) progress(`scored ${(last = scored)}/${args.events}`);
    return scored >= args.events;
  }, 'scoring');
  const e2eMs = performance.now() - t;
  const entries = await ScoreEntry.find({}).lean();
  progress(`end to end: ${args.events} events, ${entries.length} ledger entries, ${Math.round(e2eMs)} ms`);

  // 3. raw driver bulk insert of the same entries
  const raw = mongoose.connection.collection('bench_raw_entries');
  t = performance.now();
  for (let i = 0; i < entries.length; i += 1000) {
    await raw.insertMany(entries.slice(i, i + 1000).map((e) => ({ ...e, _id: `raw:${e._id}` })) as never[], {
      ordered: false,
    });
  }
  const rawMs = performance.now() - t;
  progress(`raw bulk insert: ${entries.length} entries in ${Math.round(rawMs)} ms`);
  const floorMs = await storeFloor(entries);
  progress(`store floor: ${Math.round(floorMs)} ms`);

  const rows = [
    { what: 'BullMQ no-op, one job per event', 'events/s': rate(args.events, noopMs) },
    { what: 'raw bulk insert of the same ledger entries', 'events/s': rate(args.events, rawMs) },
    {
      what: 'store floor: the same writes with the raw driver (events, ledger entries, scored marks, per batch one score update and one timeline event per lead)',
      'events/s': rate(args.events, floorMs),
    },
    { what: 'leadflow: POST /api/events until scores stored', 'events/s': rate(args.events, e2eMs) },
  ];
  process.stdout.write(
    `\nscoring bench: ${args.events} events over ${args.leads} leads, batches of ${args.batch}, ` +
      `${os.cpus().length} CPUs, node ${process.version}\n`,
  );
  process.stdout.write(
    `\n| what | events/s |\n|---|---:|\n${rows.map((r) => `| ${r.what} | ${r['events/s']} |`).join('\n')}\n\n`,
  );
  process.stdout.write(
    `end to end / raw bulk insert: ${((rawMs / e2eMs) * 100).toFixed(0)}%; ` +
      `end to end / BullMQ no-op: ${((noopMs / e2eMs) * 100).toFixed(0)}%; ` +
      `end to end / store floor: ${((floorMs / e2eMs) * 100).toFixed(0)}%\n` +
      `(the end-to-end path writes every event and then its ledger entry, so it cannot pass 50% of ` +
      `the raw insert of the entries alone; the store floor is every write it makes, without the rest)\n`,
  );

  if (args['decay-leads'] > 0) await decayPass(rt, args['decay-leads']);
  server.close();
  await mongoose.connection.db?.dropDatabase();
  await shutdown(rt.logger, 20_000);
  await deleteQueueKeys(config.redisUrl, config.queuePrefix);
}

/**
 * The least the store must do to score these events, with the raw driver and nothing else, in the
 * batches the API received them: insert the events, their ledger entries and scored marks, and per
 * batch one score update and one `score_change` timeline event per lead touched.
 */
async function storeFloor(entries: { leadId: unknown; eventId?: unknown }[]): Promise<number> {
  const db = mongoose.connection.db!;
  const [evs, marks, leads, timeline, events] = [
    db.collection('bench_floor_events'),
    db.collection('bench_floor_marks'),
    db.collection('bench_floor_leads'),
    db.collection('bench_floor_timeline'),
    await LeadEvent.find({ type: 'page_view' }).lean(),
  ];
  await leads.insertMany(
    [...new Set(entries.map((e) => String(e.leadId)))].map((id) => ({
      _id: new mongoose.Types.ObjectId(id),
      score: 0,
    })),
  );
  const entriesByEvent = new Map<string, typeof entries>();
  for (const e of entries) {
    const k = String(e.eventId);
    entriesByEvent.set(k, [...(entriesByEvent.get(k) ?? []), e]);
  }
  // the batches side by side, as the API takes several at once and the workers score them in parallel
  const one = async (i: number) => {
    const batch = events.slice(i, i + args.batch);
    await evs.insertMany(batch.map(({ _id, ...e }) => ({ ...e, _id: new mongoose.Types.ObjectId() })));
    const mine = batch.flatMap((e) => entriesByEvent.get(String(e._id)) ?? []);
    if (mine.length)
      await db
        .collection('bench_floor_entries')
        .insertMany(mine.map((e, k) => ({ ...e, _id: `floor:${i}:${k}` })) as never[], { ordered: false });
    await marks.insertMany(batch.map((e) => ({ _id: `floor:${String(e._id)}`, at: new Date() })) as never[]);
    const touched = [...new Set(batch.map((e) => String(e.leadId)))].map(
      (id) => new mongoose.Types.ObjectId(id),
    );
    await leads.bulkWrite(
      touched.map((_id) => ({ updateOne: { filter: { _id }, update: { $inc: { score: 1 } } } })),
      { ordered: false },
    );
    await timeline.insertMany(
      touched.map((leadId) => ({ leadId, type: 'score_change', occurredAt: new Date() })),
    );
  };
  const t = performance.now();
  const starts = Array.from({ length: Math.ceil(events.length / args.batch) }, (_, k) => k * args.batch);
  await Promise.all(starts.map(one));
  return performance.now() - t;
}

/** One decay pass over n positive leads (plus the bench's own), timed from enqueue to the last chunk. */
async function decayPass(rt: Awaited<ReturnType<typeof connectRuntime>>, n: number) {
  const before = await Lead.countDocuments({});
  const dayAgo = new Date(Date.now() - 86_400_000);
  await insertLeads(n, 'decay', { score: 100, scoreDecayedAt: dayAgo });
  const total = await Lead.countDocuments({});
  let chunksDone = 0;
  const worker = (await getQueue('scoring').getWorkers()).length;
  progress(`decay: ${n} positive leads (${total} leads in all), ${worker} scoring worker connection(s)`);
  const t = performance.now();
  const pass = await startDecayPass(`bench-${Date.now()}`);
  const listMs = performance.now() - t;
  const q = getQueue('scoring');
  await until(async () => {
    const c = await q.getJobCounts('waiting', 'active', 'delayed');
    const left = c.waiting! + c.active! + c.delayed!;
    if (pass.chunks - left > chunksDone)
      progress(`decay chunks done ≈ ${(chunksDone = pass.chunks - left)}/${pass.chunks}`);
    return left === 0;
  }, 'decay pass');
  const passMs = performance.now() - t;
  const decayed = await ScoreEntry.countDocuments({ kind: 'decay' });
  const perLead = passMs / pass.leads;
  process.stdout.write(
    `\ndecay pass: ${pass.leads} positive leads of ${total} (${before} before), ${pass.chunks} chunks, ` +
      `${decayed} decay entries; listing ${Math.round(listMs)} ms, whole pass ${Math.round(passMs)} ms ` +
      `(${perLead.toFixed(2)} ms per lead)\n` +
      `extrapolated to 1,000,000 positive leads, linearly per lead (method: pass time / leads x 1e6): ` +
      `${Math.round((perLead * 1e6) / 1000)} s\n`,
  );
}

await main();
