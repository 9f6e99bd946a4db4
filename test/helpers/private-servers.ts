// Private servers for tests that stop, freeze or cut their own: a FerretDB on loopback, and a TCP
// relay in front of PostgreSQL that a test can cut (or intercept) without touching the shared one.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { listening, root } from './processes.js';
import { waitFor } from './wait.js';

/** The FerretDB binary `scripts/services.sh` built (the patched one the suite runs on). */
export const ferretdbBin = execFileSync('bash', [path.join(root, 'scripts/services.sh'), 'ferretdb-path'], {
  encoding: 'utf8',
}).trim();

/**
 * Starts FerretDB with `backend` (`--handler=...` and its URL) on 127.0.0.1:`port`, its state in
 * `dir`, and waits until it accepts connections.
 */
export async function startFerretdb(backend: string[], dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    ferretdbBin,
    [
      ...backend,
      `--state-dir=${dir}`,
      `--listen-addr=127.0.0.1:${port}`,
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-level=error',
    ],
    { stdio: 'ignore' },
  );
  await waitFor(() => listening(port), { what: 'private ferretdb' });
  return child;
}

/** SIGKILLs a process (SIGCONT first, in case a test froze it) and waits for it to exit. */
export function killProcess(p: ChildProcess | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGCONT');
    p.kill('SIGKILL');
  });
}

/**
 * A TCP relay on 127.0.0.1:`port` to `target`. `wire` joins each client to its upstream (by
 * default both ways, as they come); `cut` resets every open connection and stops listening until
 * `open` again.
 */
export function tcpRelay(
  target: URL,
  port: number,
  wire: (client: Socket, upstream: Socket) => void = (client, upstream) => client.pipe(upstream).pipe(client),
) {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => undefined);
          s.on('close', () => sockets.delete(s));
        }
        const end = () => (client.destroy(), upstream.destroy());
        client.on('close', end);
        upstream.on('close', end);
        wire(client, upstream);
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.resetAndDestroy();
      if (server) server.close(() => resolve());
      else resolve();
    });
  return { open, cut };
}
