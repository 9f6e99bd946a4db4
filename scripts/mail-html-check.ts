/**
 * How well our emails read across mail clients: renders each sample through the real renderer,
 * sends it to a private Mailpit over SMTP and asks Mailpit's HTML compatibility check
 * (`GET /api/v1/message/{id}/html-check`, based on caniemail.com) for the share of "supported".
 *
 *   npx tsx scripts/mail-html-check.ts [--min 95] [--verbose]
 *
 * Mailpit is built once by scripts/mailpit.sh into ~/.cache/leadflow/bin. The integration test
 * test/integration/mail-html-check.test.ts uses the same functions.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { renderEmail } from '../src/modules/email/render.js';
import { isMain } from '../src/lib/is-main.js';
import { freePort } from './lib/net.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Mailpit's answer, the parts we read. */
export type HtmlCheck = {
  Total: { Nodes: number; Tests: number; Supported: number; Partial: number; Unsupported: number };
  Warnings: {
    Slug: string;
    Title: string;
    Category: string;
    Score: { Found: number; Supported: number; Partial: number; Unsupported: number };
    Results: { Name: string; Platform: string; Version: string; Support: string; NoteText?: string }[];
  }[];
};

/** The Mailpit binary: built (or found) by scripts/mailpit.sh; undefined when it cannot be built. */
export function mailpitBinary(opts: { build?: boolean; timeoutMs?: number } = {}): string | undefined {
  const r = spawnSync(
    'bash',
    [path.join(root, 'scripts/mailpit.sh'), opts.build === false ? 'path' : 'install'],
    {
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 300_000,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const bin = r.stdout?.trim();
  return r.status === 0 && bin ? bin : undefined;
}

export type Mailpit = { api: string; smtpPort: number; stop: () => Promise<void> };

/** A private Mailpit on loopback ports of its own, with its own database, stopped by `stop()`. */
export async function startMailpit(bin: string): Promise<Mailpit> {
  const dir = mkdtempSync(path.join(tmpdir(), 'leadflow-mailpit-'));
  const [httpPort, smtpPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    bin,
    [
      `--listen=127.0.0.1:${httpPort}`,
      `--smtp=127.0.0.1:${smtpPort}`,
      `--database=${path.join(dir, 'mailpit.db')}`,
      '--disable-version-check',
      '--smtp-disable-rdns',
      '--quiet',
    ],
    { stdio: 'ignore' },
  );
  const api = `http://127.0.0.1:${httpPort}/api/v1`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mailpit exited with ${child.exitCode}`);
    const ok = await fetch(`${api}/info`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error('mailpit did not answer within 20s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    api,
    smtpPort,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sends one message to Mailpit over SMTP and answers its HTML compatibility check. */
export async function htmlCheck(
  mp: Mailpit,
  message: { subject: string; html: string; text: string; headers?: Record<string, string> },
): Promise<HtmlCheck> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: mp.smtpPort,
    secure: false,
    ignoreTLS: true,
  });
  const marker = `check-${Date.now()}-${Math.random().toString(36).slice(2)}@leadflow.test`;
  try {
    await transport.sendMail({
      from: 'leadflow <no-reply@leadflow.test>',
      to: marker,
      subject: message.subject,
      html: message.html,
      text: message.text,
      headers: message.headers,
    });
  } finally {
    transport.close();
  }
  const deadline = Date.now() + 10_000;
  let id: string | undefined;
  while (!id) {
    const list = (await (
      await fetch(`${mp.api}/search?query=${encodeURIComponent(`to:"${marker}"`)}`)
    ).json()) as {
      messages: { ID: string }[];
    };
    id = list.messages[0]?.ID;
    if (!id && Date.now() > deadline) throw new Error('the message did not reach mailpit');
    if (!id) await new Promise((r) => setTimeout(r, 100));
  }
  const res = await fetch(`${mp.api}/message/${id}/html-check`);
  if (!res.ok) throw new Error(`html-check answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as HtmlCheck;
}

const sampleLead = {
  email: 'ada@example.com',
  firstName: 'Ada',
  lastName: 'Lovelace',
  company: 'Analytical Engines',
  title: 'CTO',
  country: 'GB',
  source: 'Web',
};

export type Sample = {
  name: string;
  render: () => Promise<{ subject: string; html: string; text: string; headers: Record<string, string> }>;
};

/**
 * What is checked: every marketing template under templates/email in the default layout, rendered
 * as sent (tracked links, open pixel, unsubscribe footer), and the transactional templates that
 * name a check sample (the sales notification adds its own).
 */
export function samples(templatesDir = path.join(root, 'templates')): Sample[] {
  const rt = sampleRuntime(templatesDir);
  const templates = readdirSync(path.join(templatesDir, 'email'))
    .filter((f) => f.endsWith('.hbs') && !f.endsWith('.txt.hbs'))
    .map((f) => f.slice(0, -'.hbs'.length));
  const marketing = templates.filter((t) => !extraSamples[t]);
  return [
    ...marketing.map((template) => ({
      name: `layouts/default + ${template}`,
      render: () =>
        renderEmail(rt, {
          lead: sampleLead,
          content: { subject: `Sample of ${template}`, template },
          sendId: '64b7f0c2a1b2c3d4e5f60718',
          marketing: true,
        }),
    })),
    ...templates
      .filter((t) => extraSamples[t])
      .map((t) => ({ name: t, render: () => extraSamples[t]!(templatesDir) })),
  ];
}

/**
 * Templates that are not rendered as marketing mail in the default layout, with how to render a
 * realistic sample of each.
 */
export const extraSamples: Record<string, (templatesDir: string) => ReturnType<Sample['render']>> = {
  // the sales notification (transactional: no unsubscribe footer), with a full set of reasons,
  // BANT answers and the last ten activities, as the handoff worker renders it
  'handoff-notification': (templatesDir) => {
    const input = {
      lead: { ...sampleLead, phone: '+442071234567' },
      content: {
        subject: 'New qualified lead: Ada Lovelace (Analytical Engines)',
        template: 'handoff-notification',
      },
      marketing: false,
      data: {
        reassigned: false,
        reminder: false,
        leadName: 'Ada Lovelace',
        score: 87,
        grade: 'A',
        topReasons: [
          { reason: 'Requested a demo', points: 30 },
          { reason: 'Visited /pricing', points: 20 },
          { reason: 'Title matches CTO', points: 15 },
          { reason: 'Clicked "Book a demo"', points: 10 },
          { reason: 'Opened 3 emails', points: 6 },
        ],
        bant: [
          { label: 'Budget', answer: '50-100k this year' },
          { label: 'Authority', answer: 'yes' },
          { label: 'Need', answer: 'Replace spreadsheets for lead routing' },
          { label: 'Timeline', answer: 'Q3' },
        ],
        agreementVersion: 3,
        agreedBy: 'Mia (marketing) and Sam (sales)',
        slaDueAt: '2026-12-02 09:00 UTC',
        activities: Array.from({ length: 10 }, (_v, i) => ({
          at: `2026-12-01 1${i}:00`,
          kind: ['page_view', 'email_click', 'email_open', 'form_submit'][i % 4],
          detail: i % 4 === 0 ? '/pricing' : i % 4 === 1 ? 'https://example.com/demo' : '',
        })),
        acceptUrl: 'https://leadflow.example/h/accept-token',
        rejectUrl: 'https://leadflow.example/h/reject-token',
      },
    };
    // `data` (values beyond the lead) is the renderer's option for transactional templates
    return renderEmail(sampleRuntime(templatesDir), input as Parameters<typeof renderEmail>[1]);
  },
};

function sampleRuntime(templatesDir: string) {
  return {
    config: {
      publicUrl: 'https://leadflow.example',
      templatesDir,
      mailFrom: 'leadflow <no-reply@leadflow.test>',
      dkim: undefined,
    },
    trackingSecret: 'mail-html-check-secret-0123456789',
  };
}

/** The warnings that cost points, worst first, one line each. */
export function describeWarnings(check: HtmlCheck): string[] {
  return check.Warnings.filter((w) => w.Score.Supported < 100)
    .sort((a, b) => a.Score.Supported - b.Score.Supported)
    .map((w) => {
      const bad = w.Results.filter((r) => r.Support !== 'yes').map((r) => `${r.Name} (${r.Support})`);
      return `${w.Title} [${w.Slug}]: ${w.Score.Supported.toFixed(1)}% supported; ${bad.slice(0, 6).join(', ')}${bad.length > 6 ? ', …' : ''}`;
    });
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'usage: npx tsx scripts/mail-html-check.ts [--min PERCENT] [--verbose]\n' +
        "Renders each email template, sends it to a private Mailpit and prints Mailpit's HTML\n" +
        'compatibility score ("supported" share); exits 1 when one is below --min (default 95).\n',
    );
    return 0;
  }
  const minAt = argv.indexOf('--min');
  const min = minAt >= 0 ? Number(argv[minAt + 1]) : 95;
  const bin = mailpitBinary();
  if (!bin) {
    process.stderr.write('mail-html-check: Mailpit could not be built (needs Go and the Go module proxy)\n');
    return 2;
  }
  const mp = await startMailpit(bin);
  let failed = 0;
  try {
    for (const s of samples()) {
      const check = await htmlCheck(mp, await s.render());
      const score = check.Total.Supported;
      const ok = score >= min;
      if (!ok) failed++;
      process.stdout.write(
        `${ok ? 'ok  ' : 'FAIL'} ${score.toFixed(2)}% supported, ${check.Total.Partial.toFixed(2)}% partial, ${check.Total.Unsupported.toFixed(2)}% unsupported  ${s.name}\n`,
      );
      if (!ok || argv.includes('--verbose'))
        for (const line of describeWarnings(check)) process.stdout.write(`       ${line}\n`);
    }
  } finally {
    await mp.stop();
  }
  return failed ? 1 : 0;
}

if (isMain(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
