import type { RequestHandler } from 'express';
import { Types } from 'mongoose';
import { unavailable } from '../../lib/errors.js';
import { clock } from '../../lib/clock.js';
import { groupCommit } from '../../lib/group-commit.js';
import { insertManyRefusingDuplicates } from '../../lib/mongo.js';
import { enqueueBulk, type Payload } from '../../queues/index.js';
import { Contact } from '../crm/index.js';
import { Suppression, emailHash } from '../suppression/index.js';
import { recordEvents, type NewEvent } from './lead-events.service.js';
import { captureJobId, markCapturesPending } from './capture-reconcile.service.js';
import {
  landLeads,
  previewLanding,
  type Group,
  type Landing,
  type PendingEntry,
} from './capture-landing.service.js';
import type { LeadInput } from './lead.schemas.js';
import { Lead } from './lead.model.js';
import { combineInputs, normalizeLeadInput, type NormalizedLead } from './normalize-input.js';

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
  /**
   * `subscriber`: a newsletter-only form. New people become subscribers; any other capture
   * (a non-subscriber form, the API, an import) makes a subscriber a lead.
   */
  stage?: 'subscriber';
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

/**
 * The one capture path for forms, the API and imports, in five steps:
 * 1. normalise every input and group the batch by email (the first input wins, later ones fill gaps);
 * 2. look up contacts and earlier suppressions of these addresses, alongside the writes;
 * 3. land each email on its lead: claim the address in the email registry, mark the capture
 *    pending, then create the lead under the claimed id, or fill the existing lead's empty fields
 *    (`capture-landing.service.ts`);
 * 4. answer per input, in input order;
 * 5. announce: flag returning contacts and unsubscribed people, suppress opt-outs, record one event
 *    per input, and only then enqueue one `lead-captured` job per lead.
 */
export async function captureLeads(inputs: LeadInput[], ctx: CaptureContext): Promise<CaptureResult[]> {
  if (inputs.length === 0) return [];
  const now = clock.now();
  const normalized = inputs.map((i) => normalizeLeadInput(i, ctx.source));
  const groups = groupByEmail(normalized);
  const keys = [...groups.keys()];
  const people = lookUpPeople(keys);
  const markPending = (entries: PendingEntry[]) =>
    markCapturesPending(
      entries.map((e) => capturedPayload(ctx, groups.get(e.key)!, e.leadId, e.created)),
      now,
    );
  const landing = ctx.dryRun
    ? await previewLanding(keys)
    : await landLeads(groups, { now, markPending, stage: ctx.stage });
  const contactByKey = await people.contacts();
  const results = resultsInInputOrder(inputs.length, groups, landing, contactByKey);
  if (ctx.dryRun) return results;
  await announceCapture({ normalized, results, groups, landing, contactByKey, ctx, now }, people);
  return results;
}

type OneCapture = { input: LeadInput; eventProperties?: Record<string, unknown>; eventKey?: string };
type SharedContext = Omit<CaptureContext, 'eventProperties' | 'eventKeys'>;

/** Concurrent single captures with the same context, written as one batch (see groupCommit). */
const captureTogether = groupCommit<OneCapture, CaptureResult>(
  (key, items) =>
    captureLeads(
      items.map((i) => i.input),
      {
        ...(JSON.parse(key) as SharedContext),
        eventProperties: items.map((i) => i.eventProperties),
        eventKeys: items.map((i) => i.eventKey),
      },
    ),
  { maxBatch: 100 },
);

/**
 * captureLeads for one input. Under load, concurrent calls with the same context (a form's
 * submissions, API creates) are captured together in one batch: the same writes in bulk, with
 * the same answers and guarantees as one at a time.
 */
export async function captureLead(input: LeadInput, ctx: CaptureContext): Promise<CaptureResult> {
  const { eventProperties, eventKeys, ...shared } = ctx;
  // the context's own fields in a fixed order: equal contexts share a batch
  return captureTogether(JSON.stringify(shared satisfies SharedContext, Object.keys(shared).sort()), {
    input,
    eventProperties: eventProperties?.[0],
    eventKey: eventKeys?.[0],
  });
}

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

type People = { contacts: () => Promise<Map<string, string>>; suppressed: () => Promise<Set<string>> };

/**
 * Contacts with these addresses and earlier suppressions (other than an erasure), read while the
 * leads are written; only a match costs a (rare) extra update.
 */
function lookUpPeople(keys: string[]): People {
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
  return {
    contacts: async () => new Map((await contactsP).map((c) => [c.emailKey, String(c._id)])),
    suppressed: async () => new Set((await suppressedP).map((x) => hashes.get(x.emailHash)!)),
  };
}

function resultsInInputOrder(
  count: number,
  groups: Map<string, Group>,
  landing: Landing,
  contactByKey: Map<string, string>,
): CaptureResult[] {
  const results: CaptureResult[] = new Array(count);
  for (const [key, g] of groups) {
    const leadId = landing.leadIdByKey.get(key) ?? null;
    const contactId = contactByKey.get(key);
    g.indices.forEach((inputIndex, n) => {
      const created = landing.createdKeys.has(key) && n === 0;
      results[inputIndex] = { leadId, created, merged: !created, ...(contactId ? { contactId } : {}) };
    });
  }
  return results;
}

type Captured = {
  normalized: NormalizedLead[];
  results: CaptureResult[];
  groups: Map<string, Group>;
  landing: Landing;
  contactByKey: Map<string, string>;
  ctx: CaptureContext;
  now: Date;
};

/**
 * Everything a higher area needs to hear about, written before the job that tells it: a lost job
 * is found again by the reconciler through the pending marker, and an opt-out is on the
 * suppression list before nurture can enroll anyone.
 */
async function announceCapture(c: Captured, people: People): Promise<void> {
  const keys = [...c.groups.keys()];
  const payloads = keys.map((k) =>
    capturedPayload(c.ctx, c.groups.get(k)!, c.landing.leadIdByKey.get(k)!, c.landing.createdKeys.has(k)),
  );
  await Promise.all([
    flagLeads(c, await people.suppressed()),
    suppressOptOuts(keys.filter((k) => c.groups.get(k)!.lead.emailOptOut)),
    recordEvents([...submissionEvents(c), ...optOutEvents(c)]),
  ]);
  // an existing lead that opted out leaves the sequences it is in (new enrollments refuse it)
  const optedOut = payloads.filter((p, i) => !p.created && c.groups.get(keys[i]!)!.lead.emailOptOut);
  await Promise.all([
    enqueueBulk(
      'lead-captured',
      payloads.map((payload) => ({ payload, opts: { jobId: captureJobId(payload.leadId, c.now) } })),
    ),
    enqueueBulk(
      'lead-suppressed',
      optedOut.map((p) => ({ payload: { leadId: p.leadId, reason: 'unsubscribe' as const } })),
    ),
  ]);
}

/** The lead-captured job of one email: ids and keys only. */
function capturedPayload(
  ctx: CaptureContext,
  group: Group,
  leadId: string,
  created: boolean,
): Payload<'lead-captured'> {
  const source = group.lead.source;
  return {
    leadId,
    via: ctx.via,
    created,
    ...(ctx.formId ? { formId: ctx.formId } : {}),
    ...(ctx.sequenceKey ? { sequenceKey: ctx.sequenceKey } : {}),
    ...(source ? { source } : {}),
  };
}

/**
 * A returning contact gets `existingContactId`; a new lead for a person who unsubscribed, bounced
 * or complained before (even before an erasure) is created unsubscribed. (An opt-out in this
 * submission was written with the lead.)
 */
async function flagLeads(c: Captured, suppressed: Set<string>): Promise<void> {
  const ops = [...c.groups.keys()]
    .map((k) => {
      const set: Record<string, unknown> = {};
      if (c.contactByKey.has(k)) set.existingContactId = c.contactByKey.get(k)!;
      if (c.landing.createdKeys.has(k) && suppressed.has(k)) set.unsubscribed = true;
      return { k, set };
    })
    .filter(({ set }) => Object.keys(set).length > 0)
    .map(({ k, set }) => ({
      updateOne: {
        filter: { _id: new Types.ObjectId(c.landing.leadIdByKey.get(k)!) },
        update: { $set: set },
      },
    }));
  if (ops.length) await Lead.bulkWrite(ops, { ordered: false });
}

/** Email Opt Out: the address joins the suppression list (an existing, stronger reason is kept). */
async function suppressOptOuts(keys: string[]): Promise<void> {
  const docs = keys.map((k) => ({ emailHash: emailHash(k), reason: 'unsubscribe', createdAt: new Date() }));
  await insertManyRefusingDuplicates(Suppression.collection, docs);
}

function submissionEvents(c: Captured): NewEvent[] {
  return c.normalized.map((n, i) => {
    const r = c.results[i]!;
    return {
      leadId: r.leadId!,
      type: eventType[c.ctx.via],
      occurredAt: c.now,
      key: c.ctx.eventKeys?.[i],
      properties: {
        ...(c.ctx.eventProperties?.[i] ?? {}),
        via: c.ctx.via,
        ...(c.ctx.formId ? { formId: c.ctx.formId } : {}),
        created: r.created,
        ...(r.contactId ? { contactId: r.contactId, contactReturned: true } : {}),
        submission: n,
      },
    };
  });
}

/** One `unsubscribe` event per lead whose submission opted out, in its timeline. */
function optOutEvents(c: Captured): NewEvent[] {
  return [...c.groups]
    .filter(([, g]) => g.lead.emailOptOut)
    .map(([k]) => ({
      leadId: c.landing.leadIdByKey.get(k)!,
      type: 'unsubscribe',
      occurredAt: c.now,
      properties: {
        via: c.ctx.via,
        reason: 'email_opt_out',
        ...(c.ctx.formId ? { formId: c.ctx.formId } : {}),
      },
    }));
}

/**
 * Intake answers 503 before writing anything while the queue connection is down: a lead written
 * without its lead-captured job would wait for the reconciler. (A failure after the check still
 * answers 503; the retry lands on the same lead, and the reconciler enqueues the job if none comes.)
 */
export function requireQueueConnection(redis: { status: string }): RequestHandler {
  return (_req, _res, next) => {
    next(redis.status === 'ready' ? undefined : unavailable('the queue is unavailable; try again shortly'));
  };
}
