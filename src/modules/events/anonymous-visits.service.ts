import { isDuplicateKey } from '../../lib/mongo.js';
import { AnonymousVisit, AnonymousVisitor, type AnonymousVisitDoc } from './tracking.model.js';

/** A visitor keeps at most this many anonymous page views; later ones are not stored. */
export const maxAnonymousSlots = 500;
/** How far back anonymous page views are attached to a lead when it becomes known (and kept at all). */
export const anonymousRetentionMs = 30 * 24 * 3600 * 1000;
const parallel = 25;

const slotId = (visitor: string, slot: number) => `${visitor}:${slot}`;
const ignoreDuplicate = (err: unknown) => {
  if (!isDuplicateKey(err)) throw err;
};

/**
 * Stores an anonymous page view in the visitor's first free slot at or after the hint (a claim
 * by insert: two racing page views get two slots). Returns the slot's `_id`, or undefined when the
 * visitor has used every slot.
 */
export async function storeAnonymousVisit(
  visit: Omit<AnonymousVisitDoc, '_id'>,
): Promise<string | undefined> {
  const hint = await AnonymousVisitor.findById(visit.visitor, { next: 1 }).lean();
  for (let slot = hint?.next ?? 0; slot < maxAnonymousSlots; slot++) {
    const _id = slotId(visit.visitor, slot);
    try {
      await AnonymousVisit.collection.insertOne({ ...visit, _id } as never);
    } catch (err) {
      ignoreDuplicate(err);
      continue;
    }
    await AnonymousVisitor.updateOne(
      { _id: visit.visitor },
      { $set: { next: slot + 1, lastSeenAt: visit.at } },
      { upsert: true },
    ).catch(ignoreDuplicate);
    return _id;
  }
  return undefined;
}

async function readSlots(visitor: string, from: number, to: number): Promise<(AnonymousVisitDoc | null)[]> {
  const slots = Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
  return Promise.all(slots.map((s) => AnonymousVisit.findById(slotId(visitor, s)).lean<AnonymousVisitDoc>()));
}

/**
 * Every stored anonymous page view of a visitor, by `_id` lookups only: the slots below the hint
 * (the purge may have emptied some), then on until the first free slot (the hint may lag).
 */
export async function readAnonymousVisits(visitor: string): Promise<AnonymousVisitDoc[]> {
  const hint = (await AnonymousVisitor.findById(visitor, { next: 1 }).lean())?.next ?? 0;
  const found: AnonymousVisitDoc[] = [];
  for (let from = 0; from < hint; from += parallel) {
    for (const v of await readSlots(visitor, from, Math.min(hint, from + parallel))) if (v) found.push(v);
  }
  for (let slot = hint; slot < maxAnonymousSlots; slot++) {
    const [v] = await readSlots(visitor, slot, slot + 1);
    if (!v) break;
    found.push(v);
  }
  return found;
}

/** Deletes these page views and the visitor's hint (its slots start again at 0). */
export async function forgetAnonymousVisits(visitor: string, visits: { _id: string }[]): Promise<void> {
  // one at a time: the embedded SQLite refuses concurrent writers to one database (SQLITE_BUSY)
  for (const v of visits) await AnonymousVisit.deleteOne({ _id: v._id });
  await AnonymousVisitor.deleteOne({ _id: visitor });
}

/** Retention: anonymous page views older than 30 days, and visitors not seen since, are deleted. */
export async function purgeAnonymousVisits(now: Date): Promise<number> {
  const before = new Date(now.getTime() - anonymousRetentionMs);
  const r = await AnonymousVisit.deleteMany({ at: { $lt: before } });
  await AnonymousVisitor.deleteMany({ lastSeenAt: { $lt: before } });
  return r.deletedCount ?? 0;
}
