import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Import } from '../../src/modules/imports/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { useTestEnv } from '../helpers/env.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

describe('leadflow import (CLI)', () => {
  const env = useTestEnv();
  const dir = mkdtempSync(path.join(tmpdir(), 'leadflow-cli-'));

  /** Runs the real CLI in a child process against this test file's database and queue prefix. */
  async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const uri = new URL(env.config.mongodbUri);
    uri.pathname = `/${env.dbName}`;
    try {
      const r = await run(path.join(root, 'bin/leadflow'), args, {
        env: {
          ...process.env,
          MONGODB_URI: uri.toString(),
          REDIS_URL: env.config.redisUrl,
          QUEUE_PREFIX: env.config.queuePrefix,
          DATA_DIR: env.config.dataDir,
          LOG_LEVEL: 'error',
        },
        timeout: 60_000,
      });
      return { code: 0, ...r };
    } catch (err) {
      const e = err as { code?: number; stdout: string; stderr: string };
      return { code: e.code ?? -1, stdout: e.stdout, stderr: e.stderr };
    }
  }
  const reportOf = (stdout: string) =>
    JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;

  it('when a file is imported, then leads are written, rejected rows go to a file and progress to stderr', async () => {
    const file = path.join(dir, 'expo.csv');
    writeFileSync(
      file,
      'Email\tFirst Name\tCompany\nann@cli.example\tAnn\tACME\nnot-an-email\tBob\tX\nbea@cli.example\tBea\t\n',
    );
    const r = await cli(['import', file, '--source', 'Expo', '--sequence', 'welcome', '--json']);
    expect(r.code).toBe(0);
    expect(reportOf(r.stdout)).toMatchObject({ rows: 3, created: 2, merged: 0, rejected: 1, dryRun: false });
    expect(r.stderr).toMatch(/expo\.csv .*100%.* 3 rows/);
    expect(readFileSync(`${file}.rejected.csv`, 'utf8')).toBe(
      'import_row,import_reasons,Email,First Name,Company\r\n3,email: must be an email address,not-an-email,Bob,X\r\n',
    );
    expect(await Lead.findOne({ emailKey: 'ann@cli.example' }).lean()).toMatchObject({
      firstName: 'Ann',
      source: 'Expo',
    });
    const id = reportOf(r.stdout).id as string;
    expect(await Import.findById(id).lean()).toMatchObject({
      fileName: 'expo.csv',
      createdBy: 'cli',
      status: 'completed',
    });
  });

  it('when run as a dry run, then it reports and writes no lead', async () => {
    const file = path.join(dir, 'dry.csv');
    writeFileSync(file, 'Email,First Name\ndry1@cli.example,D\nann@cli.example,A\n');
    const r = await cli(['import', file, '--source', 'Expo', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/would create +1/);
    expect(r.stdout).toMatch(/would merge +1/);
    expect(await Lead.countDocuments({ emailKey: 'dry1@cli.example' })).toBe(0);
  });

  it('when every row is rejected, then the exit code is 1; a missing file or source is an error too', async () => {
    const file = path.join(dir, 'bad.csv');
    writeFileSync(file, 'Email,Name\nnope,N\n');
    const bad = await cli(['import', file, '--source', 'Expo']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/rejected +1/);
    expect(existsSync(`${file}.rejected.csv`)).toBe(true);
    const missing = await cli(['import', path.join(dir, 'missing.csv'), '--source', 'Expo']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not a readable file/);
    const noSource = await cli(['import', file]);
    expect(noSource.code).not.toBe(0);
    expect(noSource.stderr).toMatch(/--source/);
  }, 90_000); // three CLI processes, each starting tsx and connecting: slow on a loaded machine
});
