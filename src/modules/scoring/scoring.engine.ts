import { Types } from 'mongoose';
import type { Runtime } from '../../lib/runtime.js';
import { clock } from '../../lib/clock.js';
import { enqueue, queuePrefix } from '../../queues/index.js';
import { LeadEvent, unscoredEventTypes } from '../events/index.js';
import { commitWorks, findLeadsById, loadLedgers, type LeadLean, type LeadWork } from './ledger.commit.js';
import { lockLeads, postToMailboxes, takeFromMailboxes } from './lead-locks.js';
import { currentRuleset } from './ruleset.service.js';
import { ScoredMark, ScoreEntry } from './scoring.model.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import {
  ledgerState,
  planAwards,
  replayLedger,
  type LedgerEntry,
  type Ruleset,
  type ScoredEvent,
} from './scoring.logic.js';

type EventLean = {
  _id: Types.ObjectId;
  leadId: Types.ObjectId;
  type: string;
  occurredAt: Date;
  properties?: Record<string, unknown>;
};

const toScored = (e: EventLean): ScoredEvent => ({
  _id: String(e._id),
  type: e.type,
  occurredAt: e.occurredAt,
  properties: e.properties ?? {},
});

async function markScored(ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const at = clock.now();
  await ScoredMark.insertMany(
    ids.map((_id) => ({ _id, at })),
    { ordered: false, lean: true },
  ).catch((err: unknown) => {
    if (!isDuplicateKey(err)) throw err;
  });
}

/** Events by id: one `_id: {$in}` read per 1,000 ids, see findLeadsById. */
async function findEventsById(ids: string[]): Promise<EventLean[]> {
  const out: EventLean[] = [];
  for (let i = 0; i < ids.length; i += 1000) {
    out.push(...(await LeadEvent.find({ _id: { $in: ids.slice(i, i + 1000) } }).lean<EventLean[]>()));
  }
  return out;
}

/** A retry for work on leads another writer holds: soon, spread out. */
export const retryDelay = () => 200 + Math.floor(Math.random() * 300);

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) {
    const k = key(i);
    const list = m.get(k);
    if (list) list.push(i);
    else m.set(k, [i]);
  }
  return m;
}

/** The entries that replace a lead's ledger when it is rescored from its whole event history. */
function replayWork(
  rs: Ruleset,
  lead: LeadLean,
  ledger: LedgerEntry[],
  events: ScoredEvent[],
  now: Date,
): LeadWork {
  const target = replayLedger(rs, String(lead._id), events, now);
  const existing = new Map(ledger.map((e) => [e._id, e]));
  const same = (a: LedgerEntry, b: LedgerEntry) =>
    a.points === b.points && (a.eventId ?? null) === (b.eventId ?? null) && a.version === b.version;
  const keep = new Set(
    target.filter((t) => existing.has(t._id) && same(existing.get(t._id)!, t)).map((t) => t._id),
  );
  return {
    lead,
    ledger,
    remove: ledger.filter((e) => !keep.has(e._id)).map((e) => e._id),
    insert: target.filter((t) => !keep.has(t._id)),
    regrade: true,
    decayed: target.some((t) => t.kind === 'decay'),
  };
}

/**
 * Scores locked leads: new events become awards, or, when the lead's ledger was written under
 * another rule-set version (or `replayAll`, or the lead is in `replay`), its whole history is
 * replayed under the current one.
 */
async function scoreLockedLeads(
  held: string[],
  rs: Ruleset,
  eventsByLead: Map<string, EventLean[]>,
  opts: { replayAll?: boolean; replay?: Set<string> } = {},
): Promise<{ tombstones: LeadLean[]; changed: string[] }> {
  const now = clock.now();
  const leads = await findLeadsById(held);
  const live = leads.filter((l) => !l.mergedInto);
  const ledgers = await loadLedgers(leads.map((l) => l._id));
  const replay = live.filter(
    (l) =>
      opts.replayAll ||
      opts.replay?.has(String(l._id)) ||
      ledgers.get(String(l._id))!.some((e) => e.version !== rs.version),
  );
  const history = replay.length
    ? groupBy(await LeadEvent.find({ leadId: { $in: replay.map((l) => l._id) } }).lean<EventLean[]>(), (e) =>
        String(e.leadId),
      )
    : new Map<string, EventLean[]>();
  const replaying = new Set(replay.map((l) => String(l._id)));
  const quiet = await Promise.all(leads.filter((l) => l.mergedInto).map(settleTombstone(ledgers)));
  const works = live.map((lead): LeadWork => {
    const id = String(lead._id);
    const ledger = ledgers.get(id)!;
    if (replaying.has(id)) {
      const events = (history.get(id) ?? []).filter((e) => !unscoredEventTypes.has(e.type)).map(toScored);
      return replayWork(rs, lead, ledger, events, now);
    }
    const events = (eventsByLead.get(id) ?? []).map(toScored);
    const inLedger = new Set(ledger.map((e) => e.eventId));
    return {
      lead,
      ledger,
      insert: planAwards(rs, id, events, ledgerState(ledger, rs.version)),
      remove: [],
      regrade: true,
      recheck: events.some((e) => inLedger.has(e._id)),
    };
  });
  const changed = await commitWorks([...works, ...quiet], rs, now);
  return { tombstones: leads.filter((l) => l.mergedInto), changed };
}

/** One round of an event job: score the events of the leads this writer gets; post the rest. */
async function scoreRound(
  rt: Runtime,
  eventIds: string[],
): Promise<{ scored: number; held: number; leads: string[] }> {
  const prefix = queuePrefix();
  const all = await findEventsById(eventIds);
  const events = all.filter((e) => !unscoredEventTypes.has(e.type));
  const byLead = groupBy(events, (e) => String(e.leadId));
  const locks = await lockLeads(rt.redis, prefix, [...byLead.keys()], rt.config.scoringLockMs);
  try {
    await postToMailboxes(
      rt.redis,
      prefix,
      new Map(locks.busy.map((id) => [id, byLead.get(id)!.map((e) => String(e._id))])),
    );
    if (locks.held.length === 0) return { scored: 0, held: 0, leads: [...byLead.keys()] };
    // what waited for these leads joins this batch
    const waiting = await takeFromMailboxes(rt.redis, prefix, locks.held);
    const known = new Set(events.map((e) => String(e._id)));
    const extra = [...new Set(waiting)].filter((id) => !known.has(id));
    if (extra.length) {
      const more = await findEventsById(extra);
      for (const e of more) {
        if (unscoredEventTypes.has(e.type)) continue;
        all.push(e);
        const list = byLead.get(String(e.leadId));
        if (list) list.push(e);
        else byLead.set(String(e.leadId), [e]);
      }
    }
    const heldSet = new Set(locks.held);
    const mine = new Map([...byLead].filter(([id]) => heldSet.has(id)));
    const merged = [...mine.values()].flat().filter((e) => e.type === 'merged');
    // A merge moves events and ledger entries without the scoring lock; a writer that replayed the
    // survivor meanwhile (a rescore) may have read half-moved history and dropped awards. The
    // merge's own event comes after every move: the survivor is replayed from its whole history.
    const survivors = new Set(merged.map((e) => String(e.leadId)));
    const { tombstones } = await scoreLockedLeads(locks.held, await currentRuleset(), mine, {
      replay: survivors,
    });
    await followTombstones(tombstones, mine);
    const mergedIds = merged.flatMap((e) => (e.properties?.mergedIds as string[] | undefined) ?? []);
    if (mergedIds.length) await resyncLater(rt, mergedIds);
    await markScored(all.filter((e) => heldSet.has(String(e.leadId))).map((e) => String(e._id)));
    return {
      scored: [...mine.values()].reduce((s, l) => s + l.length, 0),
      held: locks.held.length,
      leads: [...byLead.keys()],
    };
  } finally {
    await locks.release();
  }
}

/**
 * The `scoring` queue's event jobs: scores these events, one writer per lead. Events of a lead
 * another writer holds wait in its mailbox; after releasing, this job takes whatever waits for
 * the leads it touched and scores it too, until nothing waits (or hands the rest to a new job).
 * A merge's event also resets the merged leads' stored score to their (now empty) ledger.
 */
export async function scoreEvents(
  rt: Runtime,
  eventIds: string[],
): Promise<{ scored: number; rounds: number }> {
  const prefix = queuePrefix();
  const touched = new Set<string>();
  let ids = eventIds;
  let scored = 0;
  let rounds = 0;
  while (ids.length) {
    rounds++;
    const r = await scoreRound(rt, ids);
    for (const l of r.leads) touched.add(l);
    scored += r.scored;
    if (r.held === 0) await pause(20 + Math.random() * 80);
    ids = [...new Set(await takeFromMailboxes(rt.redis, prefix, [...touched]))];
    if (rounds >= 50 && ids.length) {
      for (let i = 0; i < ids.length; i += 1000)
        await enqueue('scoring', { eventIds: ids.slice(i, i + 1000) }, { delay: retryDelay() });
      break;
    }
  }
  return { scored, rounds };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A merged lead's tombstone: entries a writer added while the merge moved its ledger follow it to
 * the survivor (which is then recomputed); the tombstone's own score follows its emptied ledger.
 */
function settleTombstone(ledgers: Map<string, LedgerEntry[]>) {
  return async (lead: LeadLean): Promise<LeadWork> => {
    const stray = ledgers.get(String(lead._id)) ?? [];
    if (stray.length) {
      await ScoreEntry.updateMany({ leadId: lead._id }, { $set: { leadId: lead.mergedInto } });
      await enqueue('scoring', { leadIds: [String(lead.mergedInto)] });
    }
    return { lead, ledger: [], insert: [], remove: [], regrade: false, quiet: true };
  };
}

/** Recomputes leads now, or soon for those another writer holds. */
async function resyncLater(rt: Runtime, leadIds: string[]): Promise<void> {
  const busy = await resyncLeads(
    rt,
    leadIds.filter((id) => Types.ObjectId.isValid(id)),
  );
  if (busy.length) await enqueue('scoring', { leadIds: busy }, { delay: retryDelay() });
}

/** Events recorded for a lead that was merged meanwhile move to the survivor and score there. */
async function followTombstones(tombstones: LeadLean[], byLead: Map<string, EventLean[]>): Promise<void> {
  for (const t of tombstones) {
    const ids = (byLead.get(String(t._id)) ?? []).map((e) => e._id);
    if (ids.length === 0) continue;
    await LeadEvent.updateMany({ _id: { $in: ids } }, { $set: { leadId: t.mergedInto } });
    await enqueue('scoring', { eventIds: ids.map(String) });
  }
}

/**
 * Recomputes these leads' stored score from their ledger and their grade (rescoring them when
 * their ledger is of an older rule set, or always with `replayAll`). Returns the leads another
 * writer held, to be retried.
 */
export async function resyncLeads(
  rt: Runtime,
  leadIds: string[],
  opts: { replayAll?: boolean; rs?: Ruleset } = {},
): Promise<string[]> {
  if (leadIds.length === 0) return [];
  const locks = await lockLeads(rt.redis, queuePrefix(), leadIds, rt.config.scoringLockMs);
  try {
    if (locks.held.length)
      await scoreLockedLeads(locks.held, opts.rs ?? (await currentRuleset()), new Map(), opts);
    return locks.busy;
  } finally {
    await locks.release();
  }
}
