import mongoose from 'mongoose';
import { Contact, Opportunity } from '../../src/modules/crm/index.js';
import { EmailSend } from '../../src/modules/email/index.js';
import { LeadEvent } from '../../src/modules/events/index.js';
import { Handoff } from '../../src/modules/handoff/index.js';
import { Lead } from '../../src/modules/leads/index.js';
import { HandoffRequest } from '../../src/modules/qualification/index.js';
import { ScoreEntry } from '../../src/modules/scoring/index.js';
import { getQueue, QueueName } from '../../src/queues/index.js';
import type { Delivered } from './smtp.js';
import { THRESHOLD, type Tally } from './workload.js';

export type Check = { name: string; held: boolean; detail: string };

type LeadRow = {
  _id: mongoose.Types.ObjectId;
  emailKey: string;
  email: string;
  score?: number;
  status: string;
  mergedInto?: unknown;
  unsubscribed?: boolean;
};

const ok = (name: string, bad: string[], good: string): Check => ({
  name,
  held: bad.length === 0,
  detail: bad.length ? `${bad.length} broke, e.g. ${bad.slice(0, 3).join('; ')}` : good,
});

const liveLeads = async () =>
  (await Lead.find(
    {},
    { emailKey: 1, email: 1, score: 1, status: 1, mergedInto: 1, unsubscribed: 1 },
  ).lean()) as LeadRow[];

/** What must be true once the system has settled: every queue empty, nothing in flight in MongoDB. */
export async function drained(): Promise<Check[]> {
  const queues: string[] = [];
  for (const name of Object.values(QueueName)) {
    const c = await getQueue(name).getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    const n = Object.values(c).reduce((s, v) => s + v, 0);
    if (n) queues.push(`${name}: ${JSON.stringify(c)}`);
  }
  const db = mongoose.connection.db!;
  const pendingCaptures = await db.collection('pendingcaptures').countDocuments();
  const inFlight = (await EmailSend.find(
    { status: { $in: ['pending', 'sending'] } },
    { status: 1, stepId: 1, updatedAt: 1 },
  ).lean()) as {
    status: string;
    stepId: string;
    updatedAt: Date;
  }[];
  const inFlightSends = inFlight.length
    ? `${inFlight.length} sends in flight (${inFlight
        .slice(0, 3)
        .map(
          (f) =>
            `${f.stepId} ${f.status} ${Math.round((Date.now() - new Date(f.updatedAt).getTime()) / 1000)}s ago`,
        )
        .join(', ')})`
    : '';
  const openRequests = await HandoffRequest.countDocuments({ open: true });
  const leads = await liveLeads();
  const notQualified = leads.filter(
    (l) => !l.mergedInto && (l.score ?? 0) >= THRESHOLD && !['qualified', 'converted'].includes(l.status),
  );
  const handoffs = (await Handoff.find({}, { notificationStatus: 1 }).lean()) as {
    _id: string;
    notificationStatus: string;
  }[];
  const notifying = handoffs.filter((h) => ['pending', 'sending'].includes(h.notificationStatus));
  const unscored = await unscoredEvents();
  return [
    ok('every queue drains', queues, 'all queues empty'),
    ok(
      'nothing left in flight in MongoDB',
      [
        ...(pendingCaptures ? [`${pendingCaptures} pending captures`] : []),
        ...(inFlightSends ? [inFlightSends] : []),
        ...(openRequests ? [`${openRequests} handoff requests not taken`] : []),
        ...(notifying.length ? [`${notifying.length} handoffs still notifying`] : []),
      ],
      'no pending capture, send, handoff request or notification',
    ),
    ok(
      'every scorable event scored',
      unscored.map((e) => `event ${e}`),
      'every demo/visit/form_submit event has its award',
    ),
    ok(
      `every lead at score >= ${THRESHOLD} is qualified`,
      notQualified.map((l) => `${l.email} score ${l.score} ${l.status}`),
      `${leads.filter((l) => (l.score ?? 0) >= THRESHOLD).length} leads at or over the threshold, all qualified`,
    ),
  ];
}

const ruleOf: Record<string, string> = { demo: 'demo', visit: 'visit', form_submit: 'form' };

async function unscoredEvents(): Promise<string[]> {
  const events = (await LeadEvent.find({ type: { $in: Object.keys(ruleOf) } }, { type: 1 }).lean()) as {
    _id: mongoose.Types.ObjectId;
    type: string;
  }[];
  const awards = new Set(
    (
      (await ScoreEntry.find({ kind: 'award' }, { eventId: 1, ruleId: 1 }).lean()) as {
        eventId?: string;
        ruleId?: string;
      }[]
    ).map((a) => `${a.eventId}|${a.ruleId}`),
  );
  return events.filter((e) => !awards.has(`${String(e._id)}|${ruleOf[e.type]}`)).map((e) => String(e._id));
}

/** Every invariant of DESIGN.md's "Guarantees" that this run can observe. */
export async function invariants(
  tally: Tally,
  delivered: Delivered[],
  webhooks: { headers: Record<string, string>; status: number }[],
): Promise<Check[]> {
  const leads = await liveLeads();
  const byKey = new Map<string, LeadRow[]>();
  for (const l of leads) if (!l.mergedInto) byKey.set(l.emailKey, [...(byKey.get(l.emailKey) ?? []), l]);
  const checks: Check[] = [];
  checks.push(
    ok(
      'each acknowledged submission is stored',
      [...tally.ackedEmails.keys()].filter((e) => !byKey.has(e.trim().toLowerCase())),
      `${tally.ackedEmails.size} acknowledged people, each with a lead`,
    ),
    ok(
      'one lead per email',
      [...byKey].filter(([, ls]) => ls.length > 1).map(([k, ls]) => `${k} x${ls.length}`),
      `${byKey.size} emails, one lead each`,
    ),
  );
  const keys = [...tally.ackedEventIds].map((id) => `api:${id}`);
  const stored = new Set<string>();
  for (let i = 0; i < keys.length; i += 500)
    for (const e of (await LeadEvent.find({ key: { $in: keys.slice(i, i + 500) } }, { key: 1 }).lean()) as {
      key: string;
    }[])
      stored.add(e.key);
  checks.push(
    ok(
      'each acknowledged event is stored',
      keys.filter((k) => !stored.has(k)),
      `${keys.length} acknowledged event ids, all stored`,
    ),
  );
  const entries = (await ScoreEntry.find({}, { leadId: 1, points: 1, eventId: 1, ruleId: 1 }).lean()) as {
    leadId: unknown;
    points: number;
    eventId?: string;
    ruleId?: string;
  }[];
  const sums = new Map<string, number>();
  const awards = new Map<string, number>();
  for (const e of entries) {
    sums.set(String(e.leadId), (sums.get(String(e.leadId)) ?? 0) + e.points);
    if (e.eventId) awards.set(`${e.eventId}|${e.ruleId}`, (awards.get(`${e.eventId}|${e.ruleId}`) ?? 0) + 1);
  }
  checks.push(
    ok(
      'score equals ledger sum',
      leads
        .filter((l) => (l.score ?? 0) !== (sums.get(String(l._id)) ?? 0))
        .map((l) => `${l.email} ${l.score} vs ${sums.get(String(l._id)) ?? 0}`),
      `${leads.length} leads, ${entries.length} ledger entries`,
    ),
    ok(
      'no event counted twice',
      [...awards].filter(([, n]) => n > 1).map(([k, n]) => `${k} x${n}`),
      `${awards.size} awards, one per (event, rule)`,
    ),
  );
  checks.push(...(await handoffChecks(delivered, webhooks)));
  checks.push(...(await emailChecks(tally, delivered)));
  return checks;
}

async function handoffChecks(
  delivered: Delivered[],
  webhooks: { headers: Record<string, string>; status: number }[],
): Promise<Check[]> {
  const handoffs = (await Handoff.find({}, { leadId: 1, notificationStatus: 1 }).lean()) as {
    _id: string;
    leadId: unknown;
    notificationStatus: string;
  }[];
  const perLead = new Map<string, number>();
  for (const h of handoffs) perLead.set(String(h.leadId), (perLead.get(String(h.leadId)) ?? 0) + 1);
  const conversionBad: string[] = [...perLead]
    .filter(([, n]) => n > 1)
    .map(([l, n]) => `lead ${l}: ${n} handoffs`);
  const converted = (await Lead.find(
    { _id: { $in: [...perLead.keys()] } },
    { emailKey: 1 },
  ).lean()) as LeadRow[];
  for (const l of converted) {
    const opps = await Opportunity.countDocuments({ leadId: l._id });
    const contacts = await Contact.countDocuments({ emailKey: l.emailKey });
    if (opps !== 1 || contacts !== 1)
      conversionBad.push(`${l.emailKey}: ${opps} opportunities, ${contacts} contacts`);
  }
  const notifyBad: string[] = [];
  let unknown = 0;
  for (const h of handoffs) {
    const mails = delivered.filter((d) => d.handoffId === h._id).length;
    if (h.notificationStatus === 'unknown') unknown++;
    const fine =
      h.notificationStatus === 'sent' ? mails === 1 : h.notificationStatus === 'unknown' ? mails <= 1 : false;
    if (!fine) notifyBad.push(`${h._id}: ${h.notificationStatus}, ${mails} emails`);
  }
  const ids = new Map<string, number>();
  for (const w of webhooks)
    if (w.status < 300 && w.headers['webhook-id']?.startsWith('handoff.created:'))
      ids.set(w.headers['webhook-id'], (ids.get(w.headers['webhook-id']) ?? 0) + 1);
  const hookBad = handoffs
    .filter((h) => !ids.has(`handoff.created:${h._id}`))
    .map((h) => `${h._id}: none delivered`);
  for (const id of ids.keys())
    if (!handoffs.some((h) => `handoff.created:${h._id}` === id)) hookBad.push(`${id}: no such handoff`);
  const redelivered = [...ids.values()].filter((n) => n > 1).length;
  return [
    ok(
      'one conversion per converted lead',
      conversionBad,
      `${handoffs.length} handoffs, one opportunity and contact each`,
    ),
    ok(
      'one notification per handoff',
      notifyBad,
      `${handoffs.length - unknown} sent once, ${unknown} unknown (not resent)`,
    ),
    ok(
      'one handoff.created webhook per handoff',
      hookBad,
      `${ids.size} delivered${redelivered ? ` (${redelivered} redelivered under the same webhook-id)` : ''}`,
    ),
  ];
}

async function emailChecks(tally: Tally, delivered: Delivered[]): Promise<Check[]> {
  const perMessage = new Map<string, number>();
  for (const d of delivered.filter((m) => m.marketing))
    perMessage.set(d.messageId, (perMessage.get(d.messageId) ?? 0) + 1);
  const sends = (await EmailSend.find({}, { status: 1, sendKey: 1 }).lean()) as {
    _id: unknown;
    status: string;
    sendKey: string;
  }[];
  const bySendId = new Map(sends.map((s) => [String(s._id), s]));
  const twice = [...perMessage].filter(([, n]) => n > 1).map(([id, n]) => `${id} x${n}`);
  const unknown = sends.filter((s) => s.status === 'unknown');
  const unknownResent = unknown.filter((s) =>
    [...perMessage].some(([id, n]) => id.startsWith(`<${String(s._id)}@`) && n > 1),
  );
  const orphan = [...perMessage.keys()].filter(
    (id) => !bySendId.has(/^<([a-f0-9]{24})@/.exec(id)?.[1] ?? ''),
  );
  const after: string[] = [];
  for (const d of delivered) {
    const at = tally.unsubscribed.get(d.to[0]!);
    // an SMTP transaction begun within 2 s of the answer may have passed its check before it
    if (d.marketing && at !== undefined && d.mailFromAt > at + 2_000)
      after.push(`${d.to[0]} ${d.mailFromAt - at} ms after unsubscribing`);
  }
  const dropped = delivered.filter((d) => d.dropped).length;
  return [
    ok(
      'at most one email per (enrollment, step)',
      [...twice, ...orphan.map((o) => `${o} has no send record`)],
      `${perMessage.size} marketing emails for ${sends.length} sends (unique sendKey), ${dropped} delivered-but-dropped`,
    ),
    ok(
      'unknown outcomes counted, never resent',
      unknownResent.map((s) => s.sendKey),
      `${unknown.length} sends recorded unknown, none resent`,
    ),
    ok(
      'nothing sent after an unsubscribe',
      after,
      `${tally.unsubscribed.size} unsubscribed, nothing sent after`,
    ),
  ];
}
