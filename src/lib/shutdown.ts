import type { Logger } from './logger.js';

type Hook = { name: string; fn: () => Promise<void> | void };
const hooks: Hook[] = [];
let shuttingDown = false;

/**
 * Registers work to do on SIGTERM/SIGINT. Hooks run in reverse order of registration, so what
 * started last (HTTP server, workers) stops first and the connections they use close after them.
 */
export function onShutdown(name: string, fn: Hook['fn']): void {
  hooks.push({ name, fn });
}

export function isShuttingDown(): boolean {
  return shuttingDown;
}

/** Runs every hook once, each awaited, with an overall deadline. */
export async function shutdown(logger: Logger, timeoutMs: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  const deadline = setTimeout(() => {
    logger.error({ timeoutMs }, 'shutdown deadline passed; exiting with work unfinished');
    process.exit(1);
  }, timeoutMs);
  deadline.unref();
  for (const hook of [...hooks].reverse()) {
    try {
      await hook.fn();
      logger.debug({ hook: hook.name }, 'stopped');
    } catch (err) {
      logger.error({ err, hook: hook.name }, 'shutdown hook failed');
    }
  }
  hooks.length = 0;
  clearTimeout(deadline);
}

/** Wires SIGTERM and SIGINT to `shutdown` and exits when it is done. */
export function installSignalHandlers(logger: Logger, timeoutMs: number): void {
  const handler = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down: finishing in-flight requests and jobs');
    void shutdown(logger, timeoutMs).then(() => {
      logger.info('shutdown complete');
      process.exit(0);
    });
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
