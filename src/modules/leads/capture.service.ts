import type { RequestHandler } from 'express';
import { Types } from 'mongoose';
import { unavailable } from '../../lib/errors.js';
import { clock } from '../../lib/clock.js';
import { enqueueBulk } from '../../queues/index.js';
import { Contact } from '../crm/index.js';
import { Suppression, emailHash } from '../suppression/index.js';
import { recordEvents, type NewEvent } from './lead-events.service.js';
import { Lead, type LeadDoc } from './lead.model.js';
import type { LeadInput } from './lead.schemas.js';
import {
  combineInputs,
  fillEmptyFields,
  normalizeLeadInput,
  type NormalizedLead,
} from './normalize-input.js';

export type CaptureVia = 'form' | 'api' | 'import';

export type CaptureContext = {
  via: CaptureVia;
  /** the lead source when an input has none (a form's or an import's source) */
  source?: string;
  formId?: string;
  /** a sequence the lead should be enrolled into (nurture reads it from the lead-captured job) */
  sequenceKey?: string;
  /** answer what would happen, write nothing */
  dryRun?: boolean;
  /** per input: extra properties kept on its submission event (e.g. a form's undeclared fields) */
  eventProperties?: (Record<string, unknown> | undefined)[];
  /** per input: an idempotency key for its submission event (e.g. `import:<id>:<row>`) */
  eventKeys?: (string | undefined)[];
};

export type CaptureResult = {
  /** null only in a dry run, for a lead that would be created */
  leadId: string | null;
  created: boolean;
  /** the input landed on a lead that already existed (or on one created earlier in this batch) */
  merged: boolean;
  /** set when the email belongs to a Contact: the "contact comes back as a lead" case */
  contactId?: string;
};

const eventType: Record<CaptureVia, string> = { form: 'form_submit', import: 'import', api: 'api_submit' };

type Group = { lead: NormalizedLead; indices: number[] };

/** Groups inputs by normalised email in first-seen order; later inputs fill the first's gaps. */
function groupByEmail(normalized: NormalizedLead[]): Map<string, Group> {
  const groups = new Map<string, Group>();
  normalized.forEach((n, i) => {
    const g = groups.get(n.emailKey);
    if (g) {
      g.lead = combineInputs(g.lead, n);
      g.indices.push(i);
    } else groups.set(n.emailKey, { lead: n, indices: [i] });
  });
  return groups;
}

function newLeadDoc(n: NormalizedLead, now: Date): Record<string, unknown> {
  const doc = new Lead({
    ...n,
    status: 'open',
    lifecycleStage: 'lead',
    stageDates: { lead: now },
    lastActivityAt: now,
  }).toObject({ depopulate: true });
  return { ...doc, createdAt: now, updatedAt: now };
}

type WriteError = { index: number; code?: number };

/**
 * Inserts the leads in one unordered bulk insert. The unique emailKey index decides, atomically on
 * every server, which of any concurrent submissions creates the lead; the others get a
 * duplicate-key error and are treated as repeats.
 */
async function insertNewLeads(docs: Record<string, unknown>[]): Promise<Set<number>> {
  const inserted = new Set(docs.map((_, i) => i));
  if (docs.length === 0) return inserted;
  try {
    await Lead.collection.insertMany(docs, { ordered: false });
  } catch (err) {
    const writeErrors = ([] as WriteError[]).concat(
      (err as { writeErrors?: WriteError | WriteError[] }).writeErrors ?? [],
    );
    if (writeErrors.length === 0 || writeErrors.some((w) => w.code !== 11000)) throw err;
    for (const w of writeErrors) inserted.delete(w.index);
  }
  return inserted;
}

/**
 * The one capture path for forms, the API and imports: normalises, deduplicates within the batch
 * and against the database (one lead per normalised email, also under concurrent submissions),
 * fills empty fields of existing leads without overwriting, records one submission event per input
 * (the whole submission, in the timeline) and enqueues one `lead-captured` job per lead.
 * Results are in input order.
 */
// eslint-disable-next-line max-lines-per-function -- split by the capture branch (issue 8)
export async function captureLeads(inputs: LeadInput[], ctx: CaptureContext): Promise<CaptureResult[]> {
  if (inputs.length === 0) return [];
  const now = clock.now();
  const normalized = inputs.map((i) => normalizeLeadInput(i, ctx.source));
  const groups = groupByEmail(normalized);
  const keys = [...groups.keys()];

  // Contacts and suppressions are looked up alongside the writes; only a match costs one more
  // (rare) update.
  const contactsP = Contact.find({ emailKey: { $in: keys } }, { emailKey: 1 })
    .lean()
    .exec();
  contactsP.catch(() => undefined);
  const hashes = new Map(keys.map((k) => [emailHash(k), k]));
  const suppressedP = Suppression.find(
    { emailHash: { $in: [...hashes.keys()] }, reason: { $ne: 'erased' } },
    { emailHash: 1 },
  )
    .lean()
    .exec();
  suppressedP.catch(() => undefined);

  const leadIdByKey = new Map<string, string | null>();
  const createdKeys = new Set<string>();

  if (ctx.dryRun) {
    const existing = await Lead.find({ emailKey: { $in: keys } }, { emailKey: 1, mergedInto: 1 }).lean();
    for (const e of existing) leadIdByKey.set(e.emailKey, String(e.mergedInto ?? e._id));
    for (const k of keys) if (!leadIdByKey.has(k)) createdKeys.add(k);
  } else {
    let pending = keys;
    // Up to 3 rounds: a lead that refused our insert can vanish (erased) before we read it.
    for (let round = 0; round < 3 && pending.length > 0; round++) {
      const docs = pending.map((k) => newLeadDoc(groups.get(k)!.lead, now));
      const inserted = await insertNewLeads(docs);
      const repeats: string[] = [];
      pending.forEach((k, i) => {
        if (inserted.has(i)) {
          createdKeys.add(k);
          leadIdByKey.set(k, String(docs[i]!._id));
        } else repeats.push(k);
      });
      pending = repeats.length ? await fillExistingLeads(repeats, groups, leadIdByKey, now) : [];
    }
    if (pending.length) throw new Error(`could not capture ${pending.length} lead(s) after retries`);
  }

  const contactByKey = new Map((await contactsP).map((c) => [c.emailKey, String(c._id)]));
  const results: CaptureResult[] = new Array(inputs.length);
  for (const [key, g] of groups) {
    const leadId = leadIdByKey.get(key) ?? null;
    const contactId = contactByKey.get(key);
    g.indices.forEach((inputIndex, n) => {
      const created = createdKeys.has(key) && n === 0;
      results[inputIndex] = { leadId, created, merged: !created, ...(contactId ? { contactId } : {}) };
    });
  }
  if (ctx.dryRun) return results;

  // A person who unsubscribed (or bounced) before, even before an erasure, stays unsubscribed.
  const unsubscribed = new Set((await suppressedP).map((x) => hashes.get(x.emailHash)!));
  const flagOps = keys
    .filter((k) => contactByKey.has(k) || (createdKeys.has(k) && unsubscribed.has(k)))
    .map((k) => ({
      updateOne: {
        filter: { _id: new Types.ObjectId(leadIdByKey.get(k)!) },
        update: {
          $set: {
            ...(contactByKey.has(k) ? { existingContactId: contactByKey.get(k)! } : {}),
            ...(createdKeys.has(k) && unsubscribed.has(k) ? { unsubscribed: true } : {}),
          },
        },
      },
    }));
  const flagWrites = flagOps.length ? Lead.bulkWrite(flagOps, { ordered: false }) : undefined;

  const events: NewEvent[] = normalized.map((n, i) => {
    const r = results[i]!;
    return {
      leadId: r.leadId!,
      type: eventType[ctx.via],
      occurredAt: now,
      key: ctx.eventKeys?.[i],
      properties: {
        ...(ctx.eventProperties?.[i] ?? {}),
        via: ctx.via,
        ...(ctx.formId ? { formId: ctx.formId } : {}),
        created: r.created,
        ...(r.contactId ? { contactId: r.contactId, contactReturned: true } : {}),
        submission: n,
      },
    };
  });
  const jobs = keys.map((k) => ({
    payload: {
      leadId: leadIdByKey.get(k)!,
      via: ctx.via,
      created: createdKeys.has(k),
      ...(ctx.formId ? { formId: ctx.formId } : {}),
      ...(ctx.sequenceKey ? { sequenceKey: ctx.sequenceKey } : {}),
      ...(groups.get(k)!.lead.source ? { source: groups.get(k)!.lead.source! } : {}),
    },
  }));
  await Promise.all([recordEvents(events), enqueueBulk('lead-captured', jobs), flagWrites]);
  return results;
}

/** captureLeads for one input. */
export async function captureLead(input: LeadInput, ctx: CaptureContext): Promise<CaptureResult> {
  return (await captureLeads([input], ctx))[0]!;
}

/**
 * Repeat submissions: one read of the existing leads, then one bulk write filling their empty
 * fields. A tombstone (merged lead) sends the submission to its survivor. Returns the keys whose
 * lead vanished meanwhile (to be inserted again).
 */
async function fillExistingLeads(
  keys: string[],
  groups: Map<string, Group>,
  leadIdByKey: Map<string, string | null>,
  now: Date,
): Promise<string[]> {
  const existing = await Lead.find({ emailKey: { $in: keys } }).lean<LeadDoc[]>();
  const survivorIds = existing.filter((e) => e.mergedInto).map((e) => e.mergedInto!);
  const survivors = survivorIds.length
    ? await Lead.find({ _id: { $in: survivorIds }, mergedInto: null }).lean<LeadDoc[]>()
    : [];
  const survivorById = new Map(survivors.map((s) => [String(s._id), s]));
  const byKey = new Map(existing.map((e) => [e.emailKey, e]));

  const ops: { updateOne: { filter: object; update: object } }[] = [];
  const missing: string[] = [];
  for (const k of keys) {
    const found = byKey.get(k);
    const target = found?.mergedInto ? survivorById.get(String(found.mergedInto)) : found;
    if (!target) {
      missing.push(k);
      continue;
    }
    leadIdByKey.set(k, String(target._id));
    const fills = fillEmptyFields(target, groups.get(k)!.lead);
    ops.push({
      updateOne: {
        filter: { _id: target._id },
        update: { $set: { ...fills, lastActivityAt: now, updatedAt: now } },
      },
    });
  }
  if (ops.length) await Lead.bulkWrite(ops, { ordered: false, timestamps: false });
  return missing;
}

/**
 * Intake answers 503 before writing anything while the queue connection is down: a lead written
 * without its lead-captured job would miss nurture. (A failure after the check still answers 503;
 * the retry lands on the same lead.)
 */
export function requireQueueConnection(redis: { status: string }): RequestHandler {
  return (_req, _res, next) => {
    next(redis.status === 'ready' ? undefined : unavailable('the queue is unavailable; try again shortly'));
  };
}
