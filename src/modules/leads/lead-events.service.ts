import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import { LeadEvent } from './lead-event.model.js';

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
  const docs = events.map((e) => {
    const _id = new Types.ObjectId();
    return {
      _id,
      leadId: new Types.ObjectId(String(e.leadId)),
      type: e.type,
      occurredAt: e.occurredAt ?? clock.now(),
      properties: e.properties ?? {},
      key: e.key ?? `auto:${String(_id)}`,
    };
  });
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
