import { notFound } from '../../lib/errors.js';
import { EmailSend } from '../email/index.js';
import { LeadEvent } from '../events/index.js';
import { Lead } from '../leads/index.js';
import { Enrollment } from './enrollment.model.js';
import { SequenceVersion } from './sequence.model.js';
import { findVersion } from './sequence-versions.service.js';
import { foldStepStats } from './sequences.logic.js';
import type { SequenceDefinition } from './sequences.schemas.js';

type Counts = { sent: number; opened: number; clicked: number; unsubscribed: number; bounced: number };
type Row = Counts & { stepId: string; variant: string | null };

/** GET /api/sequences/:key/stats over every version of the sequence. */
export async function sequenceStats(key: string) {
  const seq = await findVersion(key);
  if (!seq) throw notFound(`sequence ${key}`);
  const [states, rows, order] = await Promise.all([enrollmentCounts(key), sendCounts(key), stepOrder(key)]);
  return {
    key,
    version: seq.version,
    ...states,
    steps: foldStepStats(order.stepIds, order.variantIds, rows),
  };
}

/** Enrollments by state, and how many of the enrolled leads converted. */
async function enrollmentCounts(key: string) {
  const byState = await Enrollment.aggregate<{ _id: string; n: number }>([
    { $match: { sequenceKey: key } },
    { $group: { _id: '$state', n: { $sum: 1 } } },
  ]);
  const count = (s: string) => byState.find((r) => r._id === s)?.n ?? 0;
  const leadIds = await Enrollment.distinct('leadId', { sequenceKey: key });
  const converted = leadIds.length
    ? await Lead.countDocuments({ _id: { $in: leadIds }, status: 'converted' })
    : 0;
  return {
    enrolled: byState.reduce((a, r) => a + r.n, 0),
    active: count('active'),
    completed: count('completed'),
    exited: count('exited'),
    converted,
  };
}

/** Counts per (step, variant): simple $match/$group that every MongoDB-compatible server runs. */
async function sendCounts(key: string): Promise<Row[]> {
  const group = { _id: { stepId: '$stepId', variant: '$variant' }, n: { $sum: 1 } };
  type G = { _id: { stepId: string; variant?: string | null; status?: string }; n: number };
  const [byStatus, opened, clicked, unsubSends] = await Promise.all([
    EmailSend.aggregate<G>([
      { $match: { sequenceKey: key } },
      { $group: { _id: { stepId: '$stepId', variant: '$variant', status: '$status' }, n: { $sum: 1 } } },
    ]),
    EmailSend.aggregate<G>([{ $match: { sequenceKey: key, openedAt: { $ne: null } } }, { $group: group }]),
    EmailSend.aggregate<G>([{ $match: { sequenceKey: key, clickedAt: { $ne: null } } }, { $group: group }]),
    unsubscribedSends(key),
  ]);
  const rows = new Map<string, Row>();
  const row = (stepId: unknown, variant: unknown) => {
    const k = `${String(stepId)}\u0000${variant == null ? '' : String(variant)}`;
    let r = rows.get(k);
    if (!r) {
      const v = variant == null ? null : String(variant);
      r = { stepId: String(stepId), variant: v, sent: 0, opened: 0, clicked: 0, unsubscribed: 0, bounced: 0 };
      rows.set(k, r);
    }
    return r;
  };
  for (const g of byStatus) {
    const r = row(g._id.stepId, g._id.variant);
    // a bounce was sent too: "sent" counts every message handed to the mail server
    if (g._id.status === 'sent' || g._id.status === 'bounced') r.sent += g.n;
    if (g._id.status === 'bounced') r.bounced += g.n;
  }
  for (const g of opened) row(g._id.stepId, g._id.variant).opened += g.n;
  for (const g of clicked) row(g._id.stepId, g._id.variant).clicked += g.n;
  for (const s of unsubSends) row(s.stepId, s.variant).unsubscribed++;
  return [...rows.values()];
}

/** The sends of this sequence that an unsubscribe came from (unsubscribes are few: events first). */
async function unsubscribedSends(key: string) {
  const unsubEvents = await LeadEvent.find(
    { type: 'unsubscribe', 'properties.sendId': { $exists: true } },
    { properties: 1 },
  ).lean();
  const unsubIds = unsubEvents
    .map((ev) => String((ev.properties as { sendId?: unknown }).sendId))
    .filter((id) => /^[a-f0-9]{24}$/.test(id));
  return unsubIds.length
    ? EmailSend.find({ _id: { $in: unsubIds }, sequenceKey: key }, { stepId: 1, variant: 1 }).lean()
    : [];
}

/** Every step any version had, latest version's order first, with each step's variant ids. */
async function stepOrder(key: string) {
  const versions = await SequenceVersion.find({ key }, { definition: 1, version: 1 })
    .sort({ version: -1 })
    .lean();
  const stepIds: string[] = [];
  const variantIds = new Map<string, string[]>();
  for (const v of versions) {
    for (const st of (v.definition as SequenceDefinition).steps) {
      if (!stepIds.includes(st.id)) stepIds.push(st.id);
      if (st.variants) {
        const ids = variantIds.get(st.id) ?? [];
        for (const vv of st.variants) if (!ids.includes(vv.id)) ids.push(vv.id);
        variantIds.set(st.id, ids);
      }
    }
  }
  return { stepIds, variantIds };
}
