import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { zodDetails } from '../../lib/http.js';
import { Lead, emailKey } from '../leads/index.js';
import { apiEventSchema, type ApiEvent } from './events.schemas.js';
import { recordEvents, type NewEvent } from '../leads/index.js';

/** How far ahead of our clock an `occurredAt` may be (clock skew), before it counts as future. */
const futureSkewMs = 60_000;

type Rejected = { index: number; error: string };

/** The live lead for each given id and email key (a merged lead's answer is its survivor). */
async function resolveLeads(
  events: ApiEvent[],
): Promise<{ byId: Map<string, string>; byEmail: Map<string, string> }> {
  const ids = [...new Set(events.flatMap((e) => (e.leadId ? [e.leadId] : [])))];
  const emails = [...new Set(events.flatMap((e) => (e.email ? [emailKey(e.email)] : [])))];
  const or: Record<string, unknown>[] = [];
  if (ids.length) or.push({ _id: { $in: ids.map((i) => new Types.ObjectId(i)) } });
  if (emails.length) or.push({ emailKey: { $in: emails } });
  const docs = or.length
    ? await Lead.find(or.length === 1 ? or[0]! : { $or: or }, { emailKey: 1, mergedInto: 1 }).lean()
    : [];
  const live = (d: (typeof docs)[number]) => String(d.mergedInto ?? d._id);
  return {
    byId: new Map(docs.map((d) => [String(d._id), live(d)])),
    byEmail: new Map(docs.map((d) => [d.emailKey, live(d)])),
  };
}

/**
 * POST /api/events: checks each event on its own, records the valid ones for known leads in one
 * bulk insert (an event `id` is its unique key, so a repeat is a duplicate, also across batches and
 * concurrent requests), and hands them to scoring.
 */
export async function ingestEvents(
  raw: unknown[],
): Promise<{ accepted: number; duplicates: number; rejected: Rejected[] }> {
  const rejected: Rejected[] = [];
  const valid: { index: number; e: ApiEvent }[] = [];
  const now = clock.now();
  raw.forEach((item, index) => {
    const r = apiEventSchema.safeParse(item);
    if (!r.success) {
      rejected.push({
        index,
        error: zodDetails(r.error)
          .map((d) => `${d.path}: ${d.message}`)
          .join('; '),
      });
    } else if (r.data.occurredAt && new Date(r.data.occurredAt).getTime() > now.getTime() + futureSkewMs) {
      rejected.push({ index, error: 'occurredAt: is in the future' });
    } else valid.push({ index, e: r.data });
  });
  const { byId, byEmail } = await resolveLeads(valid.map((v) => v.e));
  const toRecord: NewEvent[] = [];
  for (const { index, e } of valid) {
    const leadId = e.leadId ? byId.get(e.leadId) : byEmail.get(emailKey(e.email!));
    if (!leadId) {
      rejected.push({
        index,
        error: e.leadId ? `leadId: no lead ${e.leadId}` : 'email: no lead has this email',
      });
      continue;
    }
    toRecord.push({
      leadId,
      type: e.type,
      occurredAt: e.occurredAt ? new Date(e.occurredAt) : now,
      properties: e.properties ?? {},
      key: e.id !== undefined ? `api:${e.id}` : undefined,
    });
  }
  const { ids, duplicates } = await recordEvents(toRecord);
  rejected.sort((a, b) => a.index - b.index);
  return { accepted: ids.length, duplicates, rejected };
}
