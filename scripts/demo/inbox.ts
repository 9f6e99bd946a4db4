/**
 * The people's mailboxes: reads what leadflow sent them from the local outbox (`<DATA_DIR>/outbox`,
 * where mail goes when SMTP_URL is unset) and acts as their mail client would: loads the open
 * pixel, follows a signed click link, or presses the one-click unsubscribe. When there is no
 * outbox to read (SMTP_URL is set), the same engagement is posted as events to `POST /api/events`.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { withRetryAfter, type Api } from './api.js';
import { pageView } from './browser.js';
import type { Person } from './scenario.js';

export type Mail = { file: string; to: string; subject: string; html: string; unsubscribe?: string };

/** The outbox file name starts with the ISO time it was written, `:` and `.` made `-`. */
const fileStamp = (d: Date) => d.toISOString().replace(/[:.]/g, '-');

/** The List-Unsubscribe URL (mailparser gives the header as `{url}`), else the body's `/u/` link. */
function unsubscribeUrl(header: unknown, html: string): string | undefined {
  const fromHeader =
    header && typeof header === 'object' && 'url' in header
      ? String((header as { url: unknown }).url)
      : /<(https?:[^>]+)>/.exec(String(header ?? ''))?.[1];
  return fromHeader ?? /https?:\/\/[^"'\s<>]+\/u\/[A-Za-z0-9_.-]+/.exec(html)?.[0];
}

/** Messages written to the outbox since `since` that `seen` does not hold yet (the caller marks them). */
export async function newMail(outboxDir: string, since: Date, seen: Set<string>): Promise<Mail[]> {
  const from = fileStamp(since);
  let names: string[];
  try {
    names = (await readdir(outboxDir)).filter((n) => n.endsWith('.eml') && n >= from && !seen.has(n)).sort();
  } catch {
    return [];
  }
  const out: Mail[] = [];
  for (const file of names) {
    const parsed = await simpleParser(await readFile(path.join(outboxDir, file)));
    const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
    const html = typeof parsed.html === 'string' ? parsed.html : '';
    const unsubscribe = unsubscribeUrl(parsed.headers.get('list-unsubscribe'), html);
    out.push({
      file,
      to: (to?.value[0]?.address ?? '').toLowerCase(),
      subject: parsed.subject ?? '',
      html,
      ...(unsubscribe ? { unsubscribe } : {}),
    });
  }
  return out;
}

/** The path part of a tracking URL, asked of `base` (PUBLIC_URL may name another host). */
function onBase(base: string, url: string): string {
  const u = new URL(url);
  return `${base}${u.pathname}${u.search}`;
}

const tracked = (html: string, kind: 'o' | 'c') =>
  [...html.matchAll(new RegExp(`https?://[^"'\\s<>]+/t/${kind}/[A-Za-z0-9_.-]+`, 'g'))].map((m) => m[0]);

export async function openMail(base: string, mail: Mail): Promise<boolean> {
  const pixel = tracked(mail.html, 'o')[0];
  if (!pixel) return false;
  const res = await withRetryAfter(() => fetch(onBase(base, pixel)));
  await res.arrayBuffer();
  return res.ok;
}

/** Follows the first tracked link: leadflow records the click and redirects to the page. */
export async function clickMail(base: string, mail: Mail): Promise<string | undefined> {
  const link = tracked(mail.html, 'c')[0];
  if (!link) return undefined;
  const res = await withRetryAfter(() => fetch(onBase(base, link), { redirect: 'manual' }));
  await res.arrayBuffer();
  return res.status === 302 ? (res.headers.get('location') ?? undefined) : undefined;
}

/** RFC 8058 one-click unsubscribe, as a mailbox provider's "Unsubscribe" button sends it. */
export async function unsubscribe(base: string, mail: Mail): Promise<boolean> {
  if (!mail.unsubscribe) return false;
  const res = await withRetryAfter(() =>
    fetch(onBase(base, mail.unsubscribe!), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    }),
  );
  await res.arrayBuffer();
  return res.ok;
}

/** After the click the browser lands on the site, where the snippet reports the page view. */
export async function landOnSite(base: string, vid: string, person: Person, location: string, n: string) {
  await pageView(base, vid, person, new URL(location).pathname, n);
}

/** Without an outbox: the same opens and clicks as events (ids make a repeated run count once). */
export async function postEngagementEvents(api: Api, person: Person, key: string, click: boolean) {
  const events = [
    { id: `demo-open-${person.email}`, email: person.email, type: 'email_open', properties: { demo: true } },
    ...(click
      ? [
          {
            id: `demo-click-${person.email}`,
            email: person.email,
            type: 'email_click',
            properties: { demo: true },
          },
        ]
      : []),
  ];
  await api.call('POST', '/api/events', { events }, key);
}
