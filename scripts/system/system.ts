// The whole system on private servers, shared by `npm run test:faults` and `npm run soak`.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type ReadyConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { connectRuntime } from '../../src/lib/runtime.js';
import { shutdown } from '../../src/lib/shutdown.js';
import { startWebhookReceiver } from '../../test/helpers/webhook-receiver.js';
import { freePort, startPrivateServers, supervise, until, type Managed } from '../faults/servers.js';
import { startFaultySmtp } from '../faults/smtp.js';
import { ADMIN_KEY } from '../faults/workload.js';

export type ProcName = 'api' | 'worker-1' | 'worker-2' | 'scheduler';

/**
 * Starts an SMTP server (scripts/faults/smtp.ts, `ok` until told otherwise), a webhook receiver,
 * private Redis, PostgreSQL and FerretDB (scripts/faults/servers.ts), then the API, two worker
 * processes and the scheduler under the supervisor, and waits for the API's /readyz. `stop()`
 * ends the processes and the servers, closes SMTP and the receiver and deletes the temp dir; so
 * does Ctrl-C (SIGINT) or SIGTERM while the run is on.
 */
export async function startSystem() {
  const smtp = await startFaultySmtp();
  const receiver = await startWebhookReceiver();
  const servers = await startPrivateServers();
  const apiPort = await freePort();
  const base = `http://127.0.0.1:${apiPort}`;
  const dataDir = path.join(servers.dir, 'app');
  mkdirSync(dataDir, { recursive: true });
  const env: Record<string, string> = {
    MONGODB_URI: servers.mongoUri,
    REDIS_URL: servers.redisUrl,
    EMBEDDED_POSTGRES_URL: servers.postgresUrl,
    ADMIN_API_KEY: ADMIN_KEY,
    SMTP_URL: smtp.url,
    PUBLIC_URL: base,
    PORT: String(apiPort),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    WORKER_CONCURRENCY: '4',
    RATE_LIMIT_PUBLIC: '1000000',
    SMTP_TIMEOUT_MS: '10000',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_RETRY_SCHEDULE: '2s,5s,10s,20s,30s,30s,30s',
  };
  const procs: Record<ProcName, Managed> = {
    api: supervise('api', 'src/server.ts', env),
    'worker-1': supervise('worker-1', 'workers/all.ts', env),
    'worker-2': supervise('worker-2', 'workers/all.ts', env),
    scheduler: supervise('scheduler', 'workers/scheduler.ts', env),
  };
  let connected = false;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await Promise.all(Object.values(procs).map((p) => p.stop()));
    if (connected) await shutdown(createLogger('silent', 'system'), 10_000);
    await servers.down().catch(() => undefined);
    rmSync(servers.dir, { recursive: true, force: true });
    await smtp.close();
    await receiver.close();
  };
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping every process and server of the run\n`);
    void stop()
      .catch(() => undefined)
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupted).on('SIGTERM', interrupted);
  const ready = async () =>
    (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3000) })).status === 200;
  await until(ready, 120_000, 'the API to be ready');
  return {
    smtp,
    receiver,
    servers,
    base,
    env,
    procs,
    ready,
    /** connects this process (MongoDB, the queues under the run's prefix) to the run's servers */
    async connect() {
      const config = loadConfig({ ...env, LOG_LEVEL: 'silent' }) as ReadyConfig;
      await connectRuntime(config, createLogger('silent', 'system'));
      connected = true;
    },
    stop,
  };
}
export type System = Awaited<ReturnType<typeof startSystem>>;

/** `[  12.3s] message` lines, timed from `t0` */
export const sayer =
  (t0: number, to: NodeJS.WritableStream) =>
  (s: string): void => {
    to.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${s}\n`);
  };

/** A Markdown table, columns padded to their widest cell. */
export function markdownTable(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.slice(1).map(line)].join(
    '\n',
  );
}
