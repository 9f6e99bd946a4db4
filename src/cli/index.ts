import { Command, InvalidArgumentError } from 'commander';
import { simpleParser } from 'mailparser';
import { loadConfig } from '../config.js';
import { listOutbox } from '../lib/mailer.js';
import { startRuntime } from '../lib/runtime.js';
import { shutdown } from '../lib/shutdown.js';
import { pingMongo } from '../lib/mongo.js';
import { pingRedis } from '../lib/redis.js';
import { queueDepths } from '../queues/index.js';
import { readSetting } from '../lib/settings.js';
import { createApiKey, roles, type Role } from '../modules/admin/index.js';
import { registerImportCommand } from './import.command.js';

/** The `leadflow` command line. Each command reuses the service functions the API uses. */
export const program = new Command('leadflow').description('leadflow: lead capture, nurture and scoring');

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

program
  .command('outbox')
  .description('list the mail kept in the local outbox (used when SMTP_URL is unset)')
  .option('-n, --limit <n>', 'show the last n messages', positiveInt, 20)
  .option('-s, --show <n>', 'print message n of the list (1 = newest) in full', positiveInt)
  .action(async (opts: { limit: number; show?: number }) => {
    const config = loadConfig();
    const all = await listOutbox(config.outboxDir);
    if (all.length === 0) {
      process.stdout.write(`the outbox (${config.outboxDir}) is empty\n`);
      return;
    }
    const newestFirst = all.reverse();
    if (opts.show) {
      const item = newestFirst[opts.show - 1];
      if (!item) throw new InvalidArgumentError(`there are only ${all.length} messages`);
      const m = await simpleParser(item.raw);
      process.stdout.write(
        `File: ${item.file}\nDate: ${m.date?.toISOString() ?? ''}\nFrom: ${m.from?.text ?? ''}\nTo: ${
          Array.isArray(m.to) ? m.to.map((t) => t.text).join(', ') : (m.to?.text ?? '')
        }\nSubject: ${m.subject ?? ''}\n\n${m.text ?? ''}\n`,
      );
      return;
    }
    const rows = await Promise.all(
      newestFirst.slice(0, opts.limit).map(async (item, i) => {
        const m = await simpleParser(item.raw);
        const to = Array.isArray(m.to) ? m.to.map((t) => t.text).join(', ') : (m.to?.text ?? '');
        return `${String(i + 1).padStart(3)}  ${m.date?.toISOString() ?? '-'}  ${to.padEnd(32)}  ${m.subject ?? ''}`;
      }),
    );
    process.stdout.write(
      `${all.length} message(s) in ${config.outboxDir}, newest first:\n${rows.join('\n')}\n`,
    );
  });

program
  .command('keys:create')
  .description('create an API key and print it once')
  .requiredOption('--name <name>', 'who or what uses the key')
  .requiredOption('--role <role>', `one of ${roles.join(', ')}`)
  .action(async (opts: { name: string; role: string }) => {
    if (!roles.includes(opts.role as Role))
      throw new InvalidArgumentError(`role must be one of ${roles.join(', ')}`);
    const rt = await startRuntime('cli', { signals: false });
    try {
      const key = await createApiKey(opts.name, opts.role as Role);
      process.stdout.write(`${JSON.stringify(key, null, 2)}\n`);
    } finally {
      await shutdown(rt.logger, 10_000);
    }
  });

program
  .command('status')
  .description('readiness of MongoDB and Redis, queue depths, and the scheduler heartbeat')
  .action(async () => {
    const rt = await startRuntime('cli', { signals: false });
    try {
      const [mongodb, redis] = await Promise.all([pingMongo(), pingRedis(rt.redis)]);
      const heartbeat = await readSetting<string>('scheduler.heartbeat');
      const depths = redis ? await queueDepths() : {};
      process.stdout.write(
        `${JSON.stringify({ mongodb, redis, schedulerHeartbeat: heartbeat, queues: depths }, null, 2)}\n`,
      );
    } finally {
      await shutdown(rt.logger, 10_000);
    }
  });

registerImportCommand(program);

/** Extension point for other areas' commands (import, ...): each adds itself to `program`. */
export async function runCli(argv: string[]): Promise<void> {
  await program.parseAsync(argv);
}
