import { badRequest } from '../../lib/errors.js';
import { Handoff, type HandoffDoc } from './handoff.model.js';
import { toHandoffJson } from './handoff.service.js';

export type HandoffListQuery = { status?: string; ownerId?: string; limit: number; cursor?: string };

type Cursor = { phase: 'own' | 'team'; at?: number; id?: string };

function decodeCursor(c: string): Cursor {
  const m = /^(own|team)(?:\.(\d{1,15})\.([A-Za-z0-9:]{1,64}))?$/.exec(c);
  if (!m)
    throw badRequest('cursor is not valid', [
      { path: 'cursor', message: 'must be a cursor from nextCursor' },
    ]);
  return { phase: m[1] as Cursor['phase'], at: m[2] ? Number(m[2]) : undefined, id: m[3] };
}

async function page(filter: Record<string, unknown>, after: Cursor | undefined, limit: number) {
  const f = { ...filter };
  if (after?.at !== undefined) {
    const at = new Date(after.at);
    f.$or = [{ createdAt: { $lt: at } }, { createdAt: at, _id: { $lt: after.id } }];
  }
  const docs = await Handoff.find(f)
    .sort({ createdAt: -1, _id: -1 })
    .limit(limit + 1)
    .lean<HandoffDoc[]>();
  return { items: docs.slice(0, limit), more: docs.length > limit };
}

const cursorOf = (phase: string, h: HandoffDoc) => `${phase}.${new Date(h.createdAt).getTime()}.${h._id}`;

/**
 * Handoffs, newest first. A sales key tied to a rep sees the whole team's, its own first: the
 * list walks the rep's own handoffs, then everyone else's (the cursor says which part it is in).
 */
export async function listHandoffs(query: HandoffListQuery, repId?: string) {
  const base: Record<string, unknown> = {};
  if (query.status) base.status = query.status;
  if (query.ownerId) base.ownerId = query.ownerId;
  const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
  if (!repId || query.ownerId) {
    const r = await page(base, cursor, query.limit);
    const last = r.items[r.items.length - 1];
    return { items: r.items.map(toHandoffJson), nextCursor: r.more && last ? cursorOf('team', last) : null };
  }
  const items: HandoffDoc[] = [];
  let nextCursor: string | null = null;
  if (!cursor || cursor.phase === 'own') {
    const own = await page({ ...base, ownerId: repId }, cursor, query.limit);
    items.push(...own.items);
    if (own.more) nextCursor = cursorOf('own', own.items[own.items.length - 1]!);
  }
  if (!nextCursor && items.length < query.limit) {
    const teamAfter = cursor?.phase === 'team' ? cursor : undefined;
    const team = await page({ ...base, ownerId: { $ne: repId } }, teamAfter, query.limit - items.length);
    items.push(...team.items);
    if (team.more) nextCursor = cursorOf('team', team.items[team.items.length - 1]!);
  } else if (!nextCursor) nextCursor = 'team';
  return { items: items.map(toHandoffJson), nextCursor };
}
