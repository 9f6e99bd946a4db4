import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, listening } from '../lib/net.js';

const run = promisify(execFile);
export const root = path.resolve(import.meta.dirname, '../..');

export { freePort, listening };

export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A private Redis, PostgreSQL and FerretDB under a temp dir of their own, started with
 * scripts/services.sh (LEADFLOW_DATA_DIR and port settings), so killing them disturbs nobody.
 */
export async function startPrivateServers() {
  const dir = mkdtempSync(path.join(tmpdir(), 'leadflow-faults-'));
  // as root, PostgreSQL runs as `postgres`, which must reach the dir
  chmodSync(dir, 0o755);
  const ports = { redis: await freePort(), mongo: await freePort(), pg: await freePort() };
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    LEADFLOW_DATA_DIR: dir,
    LEADFLOW_REDIS_PORT: String(ports.redis),
    LEADFLOW_MONGO_PORT: String(ports.mongo),
    LEADFLOW_PG_PORT: String(ports.pg),
  };
  const services = (cmd: string) =>
    run('bash', [path.join(root, 'scripts/services.sh'), cmd], { env, encoding: 'utf8' });
  const up = async () => (await services('up')).stdout;
  const out = await up();
  const value = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(out)?.[1] ?? '';
  const pgBin = (await services('pg-bindir')).stdout.trim();
  const isRoot = process.getuid?.() === 0;
  const asPg = (cmd: string, args: string[]) =>
    isRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args);
  const pidOf = (file: string) => Number(readFileSync(path.join(dir, file), 'utf8').trim());
  const kill9 = (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const redisCli = (...args: string[]) => run('redis-cli', ['-p', String(ports.redis), ...args]);
  return {
    dir,
    ports,
    redisUrl: value('REDIS_URL'),
    mongoUri: value('MONGODB_URI'),
    postgresUrl: value('EMBEDDED_POSTGRES_URL'),
    /** SIGKILL redis-server (its append-only file keeps all but the last second), then start it */
    async restartRedis() {
      kill9(pidOf('redis/redis.pid'));
      await until(async () => !(await listening(ports.redis)), 10_000, 'redis to stop');
      await up();
    },
    async flushRedis() {
      await redisCli('FLUSHALL');
    },
    async restartFerret() {
      kill9(pidOf('ferretdb-pg/ferretdb.pid'));
      await until(async () => !(await listening(ports.mongo)), 10_000, 'ferretdb to stop');
      await up();
    },
    /** PostgreSQL stopped the hard way (`-m immediate`: no checkpoint, crash recovery on start) */
    async restartPostgres() {
      await asPg(path.join(pgBin, 'pg_ctl'), [
        '-D',
        path.join(dir, 'postgres/data'),
        '-m',
        'immediate',
        'stop',
      ]);
      await up();
    },
    up,
    down: () => services('down'),
  };
}
export type PrivateServers = Awaited<ReturnType<typeof startPrivateServers>>;

export type Managed = {
  name: string;
  child: ChildProcess | null;
  restarts: number;
  output: string[];
  kill9: () => Promise<void>;
  stop: () => Promise<void>;
};

/**
 * A leadflow process (node itself with tsx's loader, so SIGKILL kills the process that works) that
 * is started again whenever it exits while the run is not over, like a process supervisor would.
 */
export function supervise(name: string, file: string, env: Record<string, string>): Managed {
  let stopping = false;
  const m: Managed = {
    name,
    child: null,
    restarts: -1,
    output: [],
    async kill9() {
      const c = m.child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    },
    async stop() {
      stopping = true;
      const c = m.child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
      await gone;
      clearTimeout(t);
    },
  };
  const start = () => {
    m.restarts++;
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        NODE_PATH: `${root}/node_modules`,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      m.output.push(d.toString());
      if (m.output.length > 2000) m.output.shift();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('exit', () => {
      if (!stopping) setTimeout(start, 500);
    });
    m.child = child;
  };
  start();
  return m;
}
