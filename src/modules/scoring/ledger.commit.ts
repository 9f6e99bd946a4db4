import { Types } from 'mongoose';
import { isDuplicateKey, writeInChunks } from '../../lib/mongo.js';
import { enqueueBulk } from '../../queues/index.js';
import { recordEvents, type NewEvent } from '../events/index.js';
import { Lead } from '../leads/index.js';
import { fitGrade, type LedgerEntry, type Ruleset } from './scoring.logic.js';
import { ScoreEntry } from './scoring.model.js';

export type LeadLean = {
  _id: Types.ObjectId;
  score?: number | null;
  grade?: string | null;
  scoreDecayedAt?: Date | null;
  mergedInto?: Types.ObjectId | null;
  [k: string]: unknown;
};

/**
 * What one serialized writer does to one lead: entries to add and remove, and the ledger it read
 * (null when only the stored score is needed, e.g. decay: the sum is then stored score + added).
 */
export type LeadWork = {
  lead: LeadLean;
  ledger: LedgerEntry[] | null;
  insert: LedgerEntry[];
  remove: string[];
  /** the grade to store; undefined keeps the stored one */
  regrade: boolean;
  /** the decay clock restarts (a decay entry was written) */
  decayed?: boolean;
  /** a merged lead's tombstone: its score follows its ledger, without timeline or qualification */
  quiet?: boolean;
  /**
   * events already in the ledger came again (a retry after a crash, or the reconciler): the
   * writer that scored them may have stopped before asking qualification, so ask again
   */
  recheck?: boolean;
};

/**
 * Leads by id: one `_id: {$in}` read per 1,000 ids. An index read on MongoDB and on the embedded
 * default (scripts/ferretdb.patch sends `$in` to PostgreSQL, where the GIN read index serves it), so
 * this cost follows the batch, not the collection.
 */
export async function findLeadsById(ids: string[], projection?: Record<string, 1>): Promise<LeadLean[]> {
  const out: LeadLean[] = [];
  for (let i = 0; i < ids.length; i += 1000) {
    out.push(...(await Lead.find({ _id: { $in: ids.slice(i, i + 1000) } }, projection).lean<LeadLean[]>()));
  }
  return out;
}

const sum = (entries: { points: number }[]) => entries.reduce((s, e) => s + e.points, 0);

export async function loadLedgers(leadIds: Types.ObjectId[]): Promise<Map<string, LedgerEntry[]>> {
  const out = new Map<string, LedgerEntry[]>(leadIds.map((id) => [String(id), []]));
  if (leadIds.length === 0) return out;
  const docs = await ScoreEntry.find({ leadId: { $in: leadIds } }).lean<LedgerEntry[]>();
  for (const d of docs) out.get(String(d.leadId))?.push({ ...d, leadId: String(d.leadId) });
  return out;
}

/** Inserts entries unordered; returns the lead ids whose insert met an existing `_id`. */
async function insertEntries(entries: LedgerEntry[]): Promise<Set<string>> {
  const clashed = new Set<string>();
  if (entries.length === 0) return clashed;
  const docs = entries.map((e) => ({ ...e, leadId: new Types.ObjectId(e.leadId) }));
  try {
    await ScoreEntry.insertMany(docs, { ordered: false, lean: true });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    for (const w of (err as { writeErrors?: { index: number; code?: number }[] }).writeErrors ?? []) {
      if (w.code === 11000) clashed.add(entries[w.index]!.leadId);
    }
    // some drivers report only the first error: then re-read every lead of the batch
    if (clashed.size === 0) for (const e of entries) clashed.add(e.leadId);
  }
  return clashed;
}

function topReasons(entries: LedgerEntry[]): string[] {
  return [...entries]
    .sort((a, b) => Math.abs(b.points) - Math.abs(a.points))
    .slice(0, 3)
    .map((e) => `${e.points > 0 ? '+' : ''}${e.points} ${e.reason}`);
}

/**
 * Writes the works' entries, then stores each lead's score as the sum of its ledger (re-read where
 * an insert met an entry written elsewhere) and its grade; a change goes to the timeline as a
 * `score_change` event and asks qualification to re-evaluate the lead.
 */
export async function commitWorks(works: LeadWork[], rs: Ruleset, now: Date): Promise<string[]> {
  const removes = works.flatMap((w) => w.remove);
  if (removes.length) await ScoreEntry.deleteMany({ _id: { $in: removes } });
  const clashed = await insertEntries(works.flatMap((w) => w.insert));
  const reread = await loadLedgers(
    works
      .filter((w) => clashed.has(String(w.lead._id)) || (w.ledger === null && w.remove.length))
      .map((w) => w.lead._id),
  );
  const updates: {
    updateOne: { filter: { _id: Types.ObjectId }; update: { $set: Record<string, unknown> } };
  }[] = [];
  const events: NewEvent[] = [];
  const changed: string[] = [];
  for (const w of works) {
    const id = String(w.lead._id);
    const before = w.lead.score ?? 0;
    const removed = new Set(w.remove);
    const score = reread.has(id)
      ? sum(reread.get(id)!)
      : w.ledger
        ? sum(w.ledger.filter((e) => !removed.has(e._id))) + sum(w.insert)
        : before + sum(w.insert);
    const grade = w.regrade ? fitGrade(rs.fit, w.lead) : (w.lead.grade ?? null);
    const set: Record<string, unknown> = {};
    if (score !== before) set.score = score;
    if (grade !== (w.lead.grade ?? null)) set.grade = grade;
    if (w.decayed || (score > 0 && (before <= 0 || !w.lead.scoreDecayedAt))) set.scoreDecayedAt = now;
    if (score <= 0 && w.lead.scoreDecayedAt) set.scoreDecayedAt = null;
    if (Object.keys(set).length)
      updates.push({ updateOne: { filter: { _id: w.lead._id }, update: { $set: set } } });
    if (!w.quiet && (score !== before || grade !== (w.lead.grade ?? null))) {
      changed.push(id);
      events.push({
        leadId: w.lead._id,
        type: 'score_change',
        occurredAt: now,
        properties: {
          from: before,
          to: score,
          delta: score - before,
          grade,
          version: rs.version,
          reasons: topReasons(w.insert),
        },
      });
    }
  }
  // the scores and their timeline entries are independent writes: side by side
  await Promise.all([
    writeInChunks(updates, (chunk) => Lead.bulkWrite(chunk, { ordered: false })),
    recordEvents(events),
  ]);
  const recheck = works.filter((w) => w.recheck && !w.quiet).map((w) => String(w.lead._id));
  // one qualification job per 500 leads, not one per lead: a burst of engagement moves many scores
  // at once, and per-lead jobs queued behind each other delayed the lead that actually qualified
  const ask = [...new Set([...changed, ...recheck])];
  const jobs = [];
  for (let i = 0; i < ask.length; i += 500) jobs.push({ payload: { leadIds: ask.slice(i, i + 500) } });
  await enqueueBulk('qualification', jobs);
  return changed;
}
