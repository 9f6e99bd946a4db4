import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitFor } from './wait.js';

export const root = path.resolve(import.meta.dirname, '../..');
export const tsxBin = path.join(root, 'node_modules/.bin/tsx');

export { freePort, listening } from '../../scripts/lib/net.js';

export type Spawned = {
  child: ChildProcess;
  output: () => string;
  waitForOutput: (re: RegExp, timeout?: number) => Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/**
 * Starts a process and collects its stdout and stderr. A TypeScript file started with `tsxBin`
 * runs as `node --import tsx <file>`: tsx's own CLI runs the script in a second node process and
 * cannot pass a SIGKILL on, so a test killing it would leave the real worker running.
 */
export function startProcess(cmd: string, args: string[], env: Record<string, string>): Spawned {
  const [bin, argv] = cmd === tsxBin ? [process.execPath, ['--import', 'tsx', ...args]] : [cmd, args];
  const child = spawn(bin, argv, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => out,
    waitForOutput: (re, timeout = 30_000) =>
      waitFor(() => re.exec(out) ?? undefined, { timeout, what: String(re) }),
    exited,
  };
}
