/**
 * `npm run demo`: against a running leadflow (`npm start` in another terminal), seeds a believable
 * scenario through the real HTTP API and lets a few dozen people arrive through the real form,
 * read their nurture emails and become leads sales receives. Safe to run again: nothing is
 * duplicated. `npm run demo -- --help` for the options.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { runDemo } from './demo/run.js';
import { FORM_ID, SEQUENCE_KEY } from './demo/scenario.js';

const help = `npm run demo [-- options]

Seeds a demo scenario into the leadflow that \`npm start\` runs and shows leads handed off to sales.
Start the app first (\`npm start\` in another terminal), then run this.

  --url URL        the app's address (default http://localhost:$PORT, PORT from the environment or 3000)
  --timeout SECS   how long to wait for the handoffs (default 120)
  --quick          stop at the first lead handed off instead of waiting for every ready one
  --help           this text

The admin key comes from ADMIN_API_KEY, else from $DATA_DIR/admin-api-key (what \`npm start\`
prints and keeps on its first start); the demo's marketing and sales keys are kept in
$DATA_DIR/demo.json and reused by later runs.
`;

function parseArgs(argv: string[]): { url?: string; timeoutSecs: number; quick: boolean } | 'help' {
  let url: string | undefined;
  let timeoutSecs = 120;
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--url') url = argv[++i];
    else if (a === '--timeout') timeoutSecs = Number(argv[++i]);
    else if (a === '--quick') quick = true;
    else throw new Error(`unknown option ${a} (see --help)`);
  }
  if (!Number.isFinite(timeoutSecs) || timeoutSecs <= 0)
    throw new Error('--timeout must be a number of seconds');
  return { url, timeoutSecs, quick };
}

async function adminKeyFor(config: ReturnType<typeof loadConfig>): Promise<string | undefined> {
  if (config.adminApiKey) return config.adminApiKey;
  return readFile(path.join(config.dataDir, 'admin-api-key'), 'utf8').then(
    (s) => s.trim() || undefined,
    () => undefined,
  );
}

async function reachable(base: string): Promise<boolean> {
  const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  return res?.status === 200;
}

function fail(message: string): never {
  process.stderr.write(`\nleadflow demo: ${message}\n`);
  process.exit(1);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args === 'help') {
    process.stdout.write(help);
    return;
  }
  const config = loadConfig();
  const base = (args.url ?? `http://localhost:${config.port}`).replace(/\/+$/, '');
  if (!(await reachable(base))) {
    fail(
      `leadflow is not answering at ${base}/readyz.\nStart it first in another terminal: npm start\n(then run npm run demo again; --url names another address)`,
    );
  }
  const adminKey = await adminKeyFor(config);
  if (!adminKey) {
    fail(
      `no admin key: ADMIN_API_KEY is unset and ${config.dataDir}/admin-api-key does not exist.\nDoes \`npm start\` run with the same DATA_DIR?`,
    );
  }
  const started = Date.now();
  process.stdout.write(`leadflow demo against ${base}\n`);
  const result = await runDemo({
    base,
    adminKey,
    demoFile: path.join(config.dataDir, 'demo.json'),
    outboxDir: config.smtpUrl ? undefined : config.outboxDir,
    timeoutMs: args.timeoutSecs * 1000,
    quick: args.quick,
  });
  const o = (s = '') => process.stdout.write(`${s}\n`);
  o(`\nDone in ${Math.round((Date.now() - started) / 1000)} s. Look around in the web app:`);
  o(`  ${base}/app                    the funnel: subscriber → lead → MQL → SQL → opportunity`);
  o(
    `  ${base}/app/leads              ${result.leads} demo leads; open one for its timeline and score ledger`,
  );
  o(`  ${base}/app/handoffs           the sales inbox (sign in with the sales key to accept or reject)`);
  o(`  ${base}/app/sequences/${SEQUENCE_KEY}   the two-step nurture with its stats`);
  o(`  ${base}/app/forms/${FORM_ID}   the form, its embed snippet and a live test submission`);
  o(`  ${base}/app/scoring            the rules and the agreement Maria (marketing) and Sam (sales) signed`);
  o(`  ${base}/app/outbox             every email as it would arrive (admin)`);
  o(`\nSign in at ${base}/app/login with one of these keys:`);
  o(`  admin      ${adminKey}`);
  o(`  marketing  ${result.keys.marketing}`);
  o(`  sales      ${result.keys.sales}   (Ana Lopez, US territory)`);
  if (result.handoffs.length === 0) {
    fail(
      'no lead was handed off in time. Are the workers running (`bin/leadflow status`)? Try --timeout 300.',
    );
  }
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
