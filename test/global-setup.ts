import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    mongodbUri: string;
    redisUrl: string;
    /** the PostgreSQL behind the embedded FerretDB; '' when MONGODB_URI points elsewhere */
    embeddedPostgresUrl: string;
  }
}

/**
 * Brings up the real servers the tests talk to, with the same script the product uses
 * (idempotent; MONGODB_URI / REDIS_URL from the environment win, e.g. real MongoDB in compose).
 */
export default function setup(project: TestProject) {
  const root = path.resolve(import.meta.dirname, '..');
  const out = execFileSync('bash', [path.join(root, 'scripts/services.sh'), 'up'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 15 * 60_000,
  });
  const get = (k: string) => {
    const m = new RegExp(`^${k}=(.+)$`, 'm').exec(out);
    if (!m?.[1]) throw new Error(`services.sh printed no ${k}:\n${out}`);
    return m[1].trim();
  };
  project.provide('mongodbUri', get('MONGODB_URI'));
  project.provide('redisUrl', get('REDIS_URL'));
  project.provide('embeddedPostgresUrl', /^EMBEDDED_POSTGRES_URL=(.+)$/m.exec(out)?.[1]?.trim() ?? '');
}
