import { notFound } from '../../lib/errors.js';
import { enqueueBulk, QueueName } from '../../queues/index.js';
import { Handoff } from './handoff.model.js';
import type { RepBody } from './handoff.schemas.js';
import { Rep, type RepDoc } from './rep.model.js';

export function toRepJson(r: RepDoc) {
  return {
    id: r._id,
    name: r.name,
    email: r.email,
    active: r.active ?? true,
    match: (r.match ?? {}) as Record<string, string[]>,
    capacity: r.capacity ?? null,
    lastAssignedAt: r.lastAssignedAt ?? null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

/**
 * Creates or replaces a rep. When an active rep appears, handoffs waiting for an owner are queued
 * again so they get one (the handoff worker assigns and notifies; the reconciler does it too).
 */
export async function putRep(id: string, body: RepBody) {
  const doc = await Rep.findOneAndUpdate(
    { _id: id },
    {
      $set: {
        name: body.name.trim(),
        email: body.email,
        active: body.active ?? true,
        match: body.match ?? {},
        capacity: body.capacity ?? null,
      },
    },
    { upsert: true, returnDocument: 'after' },
  ).lean<RepDoc>();
  if (doc.active) {
    const waiting = await Handoff.find({ status: 'pending', ownerId: null }, { _id: 1 }).limit(1000).lean();
    await enqueueBulk(
      QueueName.handoff,
      waiting.map((h) => ({
        payload: { requestId: h._id },
        opts: { jobId: `assign-${h._id.replace(':', '-')}-${Date.now()}` },
      })),
    );
  }
  return toRepJson(doc);
}

export async function getRep(id: string) {
  const r = await Rep.findById(id).lean<RepDoc>();
  if (!r) throw notFound('rep');
  return toRepJson(r);
}

/** Reps by id, `limit` at a time; `cursor` is the last id of the previous page. */
export async function listReps(q: { limit: number; cursor?: string } = { limit: 500 }) {
  const filter = q.cursor ? { _id: { $gt: q.cursor } } : {};
  const reps = await Rep.find(filter)
    .sort({ _id: 1 })
    .limit(q.limit + 1)
    .lean<RepDoc[]>();
  const page = reps.slice(0, q.limit);
  return { items: page.map(toRepJson), nextCursor: reps.length > q.limit ? String(page.at(-1)!._id) : null };
}

/**
 * Every rep's name by id, and the active reps in name order: what pages show for an owner id and
 * offer in an owner menu. Reps are a team, not a table of millions: one read of two fields.
 */
export async function repDirectory(): Promise<{
  names: Record<string, string>;
  active: { id: string; name: string }[];
}> {
  const reps = await Rep.find({}, { name: 1, active: 1 }).limit(10_000).lean<RepDoc[]>();
  const names: Record<string, string> = Object.create(null);
  for (const r of reps) names[r._id] = r.name;
  const active = reps
    .filter((r) => r.active ?? true)
    .map((r) => ({ id: r._id, name: r.name }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { names, active };
}
