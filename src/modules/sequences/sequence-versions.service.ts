import { conflict, notFound } from '../../lib/errors.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import { SequenceVersion } from './sequence.model.js';
import type { SequenceDefinition } from './sequences.schemas.js';

/** One stored version of a sequence; versions never change once stored. */
export type Version = { key: string; version: number; definition: SequenceDefinition; createdAt?: Date };

export type SequenceView = SequenceDefinition & { key: string; version: number; createdAt: string | null };

function toSequenceView(v: Version): SequenceView {
  return {
    key: v.key,
    version: v.version,
    ...v.definition,
    createdAt: v.createdAt ? v.createdAt.toISOString() : null,
  };
}

/**
 * Stores `definition` as the next version of `key`. The (key, version) unique index settles two
 * concurrent PUTs: the loser takes the following number.
 */
export async function putSequence(
  key: string,
  definition: SequenceDefinition,
): Promise<{ key: string; version: number }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const latest = await SequenceVersion.findOne({ key }, { version: 1 }).sort({ version: -1 }).lean();
    const version = (latest?.version ?? 0) + 1;
    try {
      await SequenceVersion.create({
        key,
        version,
        definition,
        enrollFormIds: definition.enroll.formIds,
        enrollSources: definition.enroll.sources,
      });
      return { key, version };
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }
  throw conflict(`sequence ${key} is being changed concurrently; try again`);
}

/** Versions never change once stored, so workers keep the ones they run (bounded). */
const versionCache = new Map<string, Version>();
export async function findVersionCached(key: string, version: number): Promise<Version | null> {
  const k = `${key}\u0000${version}`;
  const hit = versionCache.get(k);
  if (hit) return hit;
  const v = await findVersion(key, version);
  if (v) {
    if (versionCache.size >= 500) versionCache.delete(versionCache.keys().next().value!);
    versionCache.set(k, v);
  }
  return v;
}

/** The given version of `key`, or its latest; null when there is none. */
export async function findVersion(key: string, version?: number): Promise<Version | null> {
  const q = SequenceVersion.findOne(version === undefined ? { key } : { key, version });
  const doc = await q.sort({ version: -1 }).lean();
  return doc as Version | null;
}

/** The latest version of `key` (or the given one); 404 when there is none. */
export async function getSequence(key: string, version?: number): Promise<SequenceView> {
  const v = await findVersion(key, version);
  if (!v) throw notFound(version === undefined ? `sequence ${key}` : `sequence ${key} version ${version}`);
  return toSequenceView(v);
}

/** Latest version of every sequence, by key. */
export async function listSequences(opts: { limit: number; cursor?: string }) {
  const keys = ((await SequenceVersion.distinct('key')) as string[])
    .filter((k) => opts.cursor === undefined || k > opts.cursor)
    .sort();
  const page = keys.slice(0, opts.limit);
  const items = await Promise.all(page.map((k) => getSequence(k)));
  return { items, nextCursor: keys.length > opts.limit ? (page[page.length - 1] ?? null) : null };
}

/** Keys of the sequences whose latest version's `enroll` trigger names this form or source. */
export async function sequencesTriggeredBy(trigger: { formId?: string; source?: string }): Promise<string[]> {
  const or: Record<string, unknown>[] = [];
  if (trigger.formId) or.push({ enrollFormIds: trigger.formId });
  if (trigger.source) or.push({ enrollSources: trigger.source });
  if (!or.length) return [];
  const matches = await SequenceVersion.find({ $or: or }, { key: 1, version: 1 }).lean();
  const keys: string[] = [];
  for (const m of matches) {
    // only the latest version's trigger counts
    const latest = await SequenceVersion.findOne({ key: m.key }, { version: 1 }).sort({ version: -1 }).lean();
    if (latest?.version === m.version && !keys.includes(m.key)) keys.push(m.key);
  }
  return keys;
}
