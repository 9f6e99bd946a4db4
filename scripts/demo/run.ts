/**
 * The demo's course: the scenario, the people arriving through the website and the form, their
 * mail clients reacting to the nurture emails, and the wait for sales to receive the first leads.
 */
import { createApi, type Api } from './api.js';
import {
  landOnSite,
  newMail,
  clickMail,
  openMail,
  postEngagementEvents,
  unsubscribe,
  type Mail,
} from './inbox.js';
import { visitAndSubmit } from './browser.js';
import { people, reps, type MailHabit, type Person } from './scenario.js';
import { setUpScenario, type DemoKeys } from './setup.js';

export type DemoOptions = {
  base: string;
  adminKey: string;
  demoFile: string;
  /** where the app keeps mail (undefined when it sends through SMTP) */
  outboxDir: string | undefined;
  timeoutMs: number;
  /** stop at the first handoff instead of waiting for every ready lead */
  quick?: boolean;
};

export type DemoResult = {
  keys: DemoKeys;
  leads: number;
  created: number;
  handoffs: Handoff[];
  firstHandoffMs: number | null;
};

type Handoff = { id: string; leadId: string; ownerId: string | null; status: string };
type Lead = {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  company: string;
  country: string;
};
type Tracked = { person: Person; leadId: string; vid?: string };

const out = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function leadByEmail(api: Api, email: string): Promise<Lead | undefined> {
  const { items } = await api.call<{ items: Lead[] }>('GET', `/api/leads?email=${encodeURIComponent(email)}`);
  return items[0];
}

/** Shared between the arrivals and the watcher. */
type State = {
  crowd: Map<string, Person>;
  tracked: Map<string, Tracked>;
  created: number;
  arrived: boolean;
  failed?: unknown;
};

/** Each person not yet a lead browses the site and submits the form (four browsers at a time). */
async function arrive(api: Api, state: State): Promise<void> {
  const queue = [...state.crowd.values()];
  const browser = async () => {
    for (let p = queue.shift(); p && !state.failed; p = queue.shift()) {
      const existing = await leadByEmail(api, p.email);
      if (existing) {
        state.tracked.set(p.email, { person: p, leadId: existing.id });
        continue;
      }
      const vid = await visitAndSubmit(api.base, p);
      const lead = await leadByEmail(api, p.email);
      if (!lead) throw new Error(`the form took ${p.email} but no lead has that address`);
      state.tracked.set(p.email, { person: p, leadId: lead.id, vid });
      state.created++;
    }
  };
  try {
    await Promise.all([browser(), browser(), browser(), browser()]);
  } catch (err) {
    state.failed = err;
    throw err;
  } finally {
    state.arrived = true;
  }
}

type Counters = { sent: number; opened: number; clicked: number; unsubscribed: number; caseStudies: number };

/** What one person's mail client does with one message. */
async function react(api: Api, t: Tracked, mail: Mail, habit: MailHabit, c: Counters, n: number) {
  if (habit === 'ignore') return;
  if (habit === 'unsubscribe') {
    if (await unsubscribe(api.base, mail)) c.unsubscribed++;
    return;
  }
  if (await openMail(api.base, mail)) c.opened++;
  if (habit !== 'click') return;
  const location = await clickMail(api.base, mail);
  if (!location) return;
  c.clicked++;
  if (t.vid) await landOnSite(api.base, t.vid, t.person, location, `click-${n}`);
}

async function readMail(
  api: Api,
  outboxDir: string,
  since: Date,
  seen: Set<string>,
  state: State,
  c: Counters,
) {
  for (const mail of await newMail(outboxDir, since, seen)) {
    const t = state.tracked.get(mail.to);
    // a person whose lead id the form's answer has not given us yet: read it on the next round
    if (!t && state.crowd.has(mail.to)) continue;
    seen.add(mail.file);
    if (!t) continue; // a rep's handoff notification, or mail of something else
    c.sent++;
    const caseStudy = mail.subject.includes('Nordwind');
    if (caseStudy) c.caseStudies++;
    await react(api, t, mail, caseStudy ? t.person.mail.caseStudy : t.person.mail.welcome, c, c.sent);
  }
}

/** Our people's handoffs, and how many of them reached MQL or beyond. */
async function progress(api: Api, leadIds: Set<string>) {
  const { items } = await api.call<{ items: Handoff[] }>('GET', '/api/handoffs?limit=500');
  const handoffs = items.filter((h) => leadIds.has(h.leadId));
  let mql = 0;
  for (const stage of ['mql', 'sql', 'opportunity', 'customer']) {
    const list = await api.call<{ items: { id: string }[] }>('GET', `/api/leads?stage=${stage}&limit=500`);
    mql += list.items.filter((l) => leadIds.has(l.id)).length;
  }
  return { handoffs, mql };
}

/** Without an outbox to read, the people's opens and clicks arrive as events instead. */
async function engageByEvents(api: Api, keys: DemoKeys, tracked: Map<string, Tracked>) {
  out('  no outbox to read (SMTP_URL is set, or no mail arrived yet): posting opens and clicks as events');
  for (const t of tracked.values()) {
    if (t.person.mail.welcome === 'ignore') continue;
    await postEngagementEvents(api, t.person, keys.marketing, t.person.mail.welcome === 'click');
  }
}

type Watched = { handoffs: Handoff[]; firstHandoffMs: number | null };

async function watch(api: Api, opts: DemoOptions, keys: DemoKeys, state: State): Promise<Watched> {
  const started = Date.now();
  const since = new Date(started - 2000);
  const seen = new Set<string>();
  const c: Counters = { sent: 0, opened: 0, clicked: 0, unsubscribed: 0, caseStudies: 0 };
  let usedEvents = false;
  let firstHandoffMs: number | null = null;
  let handoffs: Handoff[] = [];
  let lastLine = '';
  while (Date.now() - started < opts.timeoutMs && !state.failed) {
    if (opts.outboxDir) await readMail(api, opts.outboxDir, since, seen, state, c);
    const secs = Math.round((Date.now() - started) / 1000);
    const noMail = !opts.outboxDir || (state.created > 0 && c.sent === 0 && secs > 20);
    if (state.arrived && noMail && !usedEvents) {
      usedEvents = true;
      await engageByEvents(api, keys, state.tracked);
    }
    const leadIds = new Set([...state.tracked.values()].map((t) => t.leadId));
    const p = await progress(api, leadIds);
    handoffs = p.handoffs;
    if (handoffs.length > 0 && firstHandoffMs === null) firstHandoffMs = Date.now() - started;
    const hot = [...state.tracked.values()].filter((t) => t.person.persona === 'hot');
    const line =
      `arrived ${state.tracked.size}/${state.crowd.size}; emails ${c.sent}, opened ${c.opened}, clicked ${c.clicked}, ` +
      `unsubscribed ${c.unsubscribed}; MQL or later ${p.mql}; handed off ${handoffs.length}`;
    if (line !== lastLine) out(`  ${String(secs).padStart(3)} s  ${line}`);
    lastLine = line;
    const allHot = hot.every((t) => handoffs.some((h) => h.leadId === t.leadId && h.ownerId));
    const nurtureShown = state.created === 0 || usedEvents || c.caseStudies > 0 || secs > 60;
    if (state.arrived && allHot && nurtureShown) break;
    if (opts.quick && handoffs.some((h) => h.ownerId)) break;
    await sleep(1000);
  }
  return { handoffs, firstHandoffMs };
}

async function describeHandoffs(api: Api, handoffs: Handoff[]) {
  const repName = new Map(reps.map((r) => [r.id, r.name]));
  for (const h of handoffs) {
    const lead = await api.call<Lead & { score: number; grade: string }>('GET', `/api/leads/${h.leadId}`);
    const owner = h.ownerId ? (repName.get(h.ownerId) ?? h.ownerId) : 'nobody yet';
    out(
      `  ${`${lead.firstName} ${lead.lastName}`.padEnd(20)} ${lead.company.padEnd(26)} ${lead.country}  score ${String(lead.score).padStart(3)} ${lead.grade ?? '-'}  → ${owner} (${h.status})`,
    );
  }
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const api = createApi(opts.base, opts.adminKey);
  out('\n1. The scenario (read first, written only when missing or different):');
  const keys = await setUpScenario(api, opts.demoFile);
  const state: State = {
    crowd: new Map(people().map((p) => [p.email, p])),
    tracked: new Map(),
    created: 0,
    arrived: false,
  };
  out(
    `\n2. ${state.crowd.size} people browse the website, submit "Request a demo" (urlencoded, as a browser`,
  );
  out(
    '   does) and read the nurture emails (open pixel, signed click links); sales waits for the ready ones:',
  );
  const [, watched] = await Promise.all([arrive(api, state), watch(api, opts, keys, state)]);
  const { handoffs, firstHandoffMs } = watched;
  out(
    `  ${state.created} new leads, ${state.tracked.size - state.created} already there (deduplicated by email)`,
  );
  if (firstHandoffMs !== null)
    out(`  first handoff seen ${Math.round(firstHandoffMs / 1000)} s after the first visitor arrived`);
  out(`\n3. Handed off to sales (${handoffs.length}):`);
  await describeHandoffs(api, handoffs);
  return { keys, leads: state.tracked.size, created: state.created, handoffs, firstHandoffMs };
}
