import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import { enqueueBulk } from '../../queues/index.js';
import { LeadEvent, minuteOf } from './lead-event.model.js';

/** Event types scoring never scores: its own record of score changes. */
export const unscoredEventTypes: ReadonlySet<string> = new Set(['score_change']);

/**
 * Hands recorded events to scoring (id-only jobs of up to 1,000). When Redis cannot take them, the
 * events are still in MongoDB, and scoring's reconciler enqueues recent events no job has seen.
 */
async function enqueueForScoring(ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const jobs = [];
  for (let i = 0; i < ids.length; i += 1000) jobs.push({ payload: { eventIds: ids.slice(i, i + 1000) } });
  try {
    await enqueueBulk('scoring', jobs);
  } catch {
    // the reconciler finds them (see above)
  }
}

export type NewEvent = {
  leadId: string | Types.ObjectId;
  type: string;
  occurredAt?: Date;
  properties?: Record<string, unknown>;
  /** idempotency key; an event with a key already recorded is not recorded again */
  key?: string;
};

/**
 * Records events in one unordered bulk insert. Returns the ids of those recorded and how many
 * were duplicates of keys already seen (counted once, by the unique index).
 */
export async function recordEvents(events: NewEvent[]): Promise<{ ids: string[]; duplicates: number }> {
  if (events.length === 0) return { ids: [], duplicates: 0 };
  const now = clock.now();
  const docs = events.map((e) => {
    const _id = new Types.ObjectId();
    return {
      _id,
      leadId: new Types.ObjectId(String(e.leadId)),
      type: e.type,
      occurredAt: e.occurredAt ?? now,
      properties: e.properties ?? {},
      key: e.key ?? `auto:${String(_id)}`,
      createdAt: now,
      createdMinute: minuteOf(now),
    };
  });
  const result = await insertEvents(docs);
  const scored = new Set(docs.filter((d) => !unscoredEventTypes.has(d.type)).map((d) => String(d._id)));
  await enqueueForScoring(result.ids.filter((id) => scored.has(id)));
  return result;
}

type EventInsert = { _id: Types.ObjectId };

async function insertEvents(docs: EventInsert[]): Promise<{ ids: string[]; duplicates: number }> {
  try {
    await LeadEvent.insertMany(docs, { ordered: false, lean: true });
    return { ids: docs.map((d) => String(d._id)), duplicates: 0 };
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const inserted = (err as { insertedDocs?: { _id: Types.ObjectId }[] }).insertedDocs;
    const failed = new Set(
      ((err as { writeErrors?: { index: number; code?: number }[] }).writeErrors ?? [])
        .filter((w) => w.code === 11000)
        .map((w) => w.index),
    );
    const ids = inserted
      ? inserted.map((d) => String(d._id))
      : docs.filter((_, i) => !failed.has(i)).map((d) => String(d._id));
    return { ids, duplicates: failed.size };
  }
}

export async function recordEvent(e: NewEvent): Promise<string | undefined> {
  return (await recordEvents([e])).ids[0];
}
