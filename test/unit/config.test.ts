import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { parseDuration } from '../../src/lib/clock.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

function issuesOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => i.key);
    throw err;
  }
  return [];
}

describe('config', () => {
  it('when nothing is set, then the defaults of API.md apply', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.publicUrl).toBe('http://localhost:3000');
    expect(c.queuePrefix).toBe('leadflow');
    expect(c.mailFrom).toBe('leadflow <no-reply@localhost>');
    expect(c.logLevel).toBe('info');
    expect(c.mongodbUri).toBeUndefined();
    expect(c.smtpUrl).toBeUndefined();
  });

  it('when PUBLIC_URL follows PORT and has a trailing slash, then it is normalised', () => {
    expect(loadConfig({ PORT: '8080' }).publicUrl).toBe('http://localhost:8080');
    expect(loadConfig({ PUBLIC_URL: 'https://lf.example.com/' }).publicUrl).toBe('https://lf.example.com');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ MONGODB_URI: 'http://localhost:27017' }, 'MONGODB_URI'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ SMTP_URL: 'ftp://x' }, 'SMTP_URL'],
    [{ QUEUE_PREFIX: 'bad prefix{}' }, 'QUEUE_PREFIX'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ADMIN_API_KEY: 'short' }, 'ADMIN_API_KEY'],
    [{ ADMIN_API_KEY: 'change-me-admin-key-0123456789' }, 'ADMIN_API_KEY'],
    [{ TRACKING_SECRET: 'short' }, 'TRACKING_SECRET'],
    [{ DKIM_DOMAIN: 'example.com' }, 'DKIM_DOMAIN'],
  ])('when %o is set, then the error names %s', (env, key) => {
    expect(issuesOf(env)).toContain(key);
  });

  it('when several values are bad, then every bad key is named', () => {
    expect(issuesOf({ PORT: 'x', LOG_LEVEL: 'y' }).sort()).toEqual(['LOG_LEVEL', 'PORT']);
  });

  it('when a process starts with a bad value, then it stops at once naming the key', async () => {
    const err = await run(path.join(root, 'node_modules/.bin/tsx'), ['src/server.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', PORT: 'not-a-port', LOG_LEVEL: 'silent' },
      timeout: 30_000,
    }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(78);
    expect(err?.stderr).toContain('PORT');
  });

  it('when durations are written as API.md does, then they parse to milliseconds', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('3d')).toBe(259_200_000);
    expect(parseDuration('1w')).toBe(604_800_000);
    expect(parseDuration('1y')).toBeUndefined();
    expect(parseDuration('-1s')).toBeUndefined();
  });
});
