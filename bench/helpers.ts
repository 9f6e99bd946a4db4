/**
 * What every bench shares: settings through loadConfig (benches read no process.env of their own),
 * `--help` and numeric options, progress lines, and cleanup of queue keys.
 */
import { parseArgs } from 'node:util';
import { loadConfigWith, type Config } from '../src/config.js';
import { EmailClaim, Lead, emailKey } from '../src/modules/leads/index.js';

export { deleteQueueKeys } from '../src/queues/index.js';

/** The shared local servers a bench uses when MONGODB_URI / REDIS_URL are unset. */
const sharedServers = {
  MONGODB_URI: 'mongodb://127.0.0.1:27028/leadflow',
  REDIS_URL: 'redis://127.0.0.1:6390',
  // the PostgreSQL behind that FerretDB (scripts/services.sh): leadflow's read indexes
  EMBEDDED_POSTGRES_URL: 'postgres://leadflow@127.0.0.1:5438/leadflow',
};

/**
 * Settings for a bench: the environment, `overrides` on top; with `sharedServers` (the default)
 * unset MONGODB_URI / REDIS_URL point at the shared local servers instead of starting new ones.
 */
export function benchConfig(
  overrides: Record<string, string | undefined> = {},
  opts: { sharedServers?: boolean } = {},
): Config {
  return loadConfigWith(overrides, opts.sharedServers === false ? {} : sharedServers);
}

type NumberOptions = Record<string, { default: number | number[]; help: string }>;
type Parsed<O extends NumberOptions> = {
  [K in keyof O]: O[K]['default'] extends number[] ? number[] : number;
} & { positionals: string[] };

/**
 * Parses `--name value` numeric options (and positionals); an option whose default is a list takes
 * a comma-separated list (`--existing 0,1000,100000`). `--help` prints the usage, each option with
 * its default, and exits. An unknown option or a value that is not a number stops the bench.
 */
export function benchArgs<O extends NumberOptions>(usage: string, options: O): Parsed<O> {
  const spec = Object.fromEntries(Object.keys(options).map((k) => [k, { type: 'string' as const }]));
  const { values, positionals } = parseArgs({
    options: { ...spec, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    const lines = Object.entries(options).map(
      ([k, o]) => `  --${k.padEnd(16)} ${o.help} (default ${o.default})`,
    );
    process.stdout.write(
      `${usage.trim()}\n\noptions:\n${lines.join('\n')}\n  --help, -h         this text\n`,
    );
    process.exit(0);
  }
  const out: Record<string, number | number[]> = {};
  for (const [k, o] of Object.entries(options)) {
    const raw = (values as Record<string, unknown>)[k];
    const list = Array.isArray(o.default);
    const parsed = typeof raw === 'string' ? raw.split(',').map(Number) : ([] as number[]).concat(o.default);
    if (parsed.some((n) => !Number.isFinite(n)) || (!list && parsed.length !== 1)) {
      process.stderr.write(
        `--${k} must be ${list ? 'a comma-separated list of numbers' : 'a number'} (got ${String(raw)})\n`,
      );
      process.exit(2);
    }
    out[k] = list ? parsed : parsed[0]!;
  }
  return Object.assign(out, { positionals }) as Parsed<O>;
}

/** A progress line on stderr, so result tables on stdout stay clean. */
export function progress(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/**
 * Writes leads as capture writes them (documents built by the Lead model, each with its email
 * registry claim), raw and unordered, in batches of 1,000; `fields(i)` gives the i-th lead's
 * fields, `email` included. Returns the lead ids in order.
 */
export async function insertLeadsWithClaims(
  n: number,
  fields: (i: number) => Record<string, unknown> & { email: string },
  onBatch?: (written: number) => void,
): Promise<string[]> {
  const ids: string[] = [];
  for (let from = 0; from < n; from += 1000) {
    const docs = Array.from({ length: Math.min(1000, n - from) }, (_, j) => {
      const f = fields(from + j);
      return new Lead({ ...f, emailKey: emailKey(f.email) }).toObject();
    });
    await Lead.collection.insertMany(docs, { ordered: false });
    await EmailClaim.collection.insertMany(
      docs.map((d) => ({ _id: d.emailKey as string, leadId: d._id, at: new Date() })) as never[],
      { ordered: false },
    );
    ids.push(...docs.map((d) => String(d._id)));
    onBatch?.(ids.length);
  }
  return ids;
}
