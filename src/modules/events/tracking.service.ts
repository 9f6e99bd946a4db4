import { Types } from 'mongoose';
import { isDuplicateKey } from '../../lib/mongo.js';
import { Lead, recordEvents, resolveLead, type NewEvent } from '../leads/index.js';
import {
  attributionOf,
  campaignFrom,
  campaignParams,
  cleanReferrer,
  describePage,
  hasCampaign,
  httpUrl,
  touchView,
  type Campaign,
} from './attribution.logic.js';
import {
  anonymousRetentionMs,
  forgetAnonymousVisits,
  readAnonymousVisits,
  storeAnonymousVisit,
} from './anonymous-visits.service.js';
import { AttributionTouch, TrackedVisitor, type AnonymousVisitDoc } from './tracking.model.js';
import { verifyVisitorId } from './visitor.tokens.js';

/** At most this many anonymous page views are attached at one identification (the most recent). */
const maxAttached = 500;

type TouchDoc = Campaign & {
  _id: string;
  leadId: Types.ObjectId;
  at: Date;
  landingPage?: string;
  referrer?: string;
};

export type PageViewInput = {
  /** the verified visitor key (verifyVisitorId) */
  visitor: string;
  pageViewId: string;
  url: URL;
  title?: string;
  referrer?: string;
  at: Date;
  /** the lead of a verified lead token (a tracked email click), if the page view carried one */
  leadId?: string;
};

function campaignOf(v: Campaign): Campaign {
  const c: Campaign = {};
  for (const p of campaignParams) if (v[p]) c[p] = v[p];
  return c;
}

function pageViewEvent(v: AnonymousVisitDoc, leadId: Types.ObjectId, anonymous: boolean): NewEvent {
  return {
    leadId,
    type: 'page_view',
    occurredAt: v.at,
    key: `pv:${v.visitor}:${v.pv}`,
    properties: {
      path: v.path,
      title: v.title ?? null,
      referrer: v.referrer ?? null,
      host: v.host,
      ...campaignOf(v),
      ...(anonymous ? { anonymous: true } : {}),
    },
  };
}

/**
 * Records touch records (each once, by `_id`) and recomputes the attribution of their leads.
 */
export async function recordTouches(touches: TouchDoc[]): Promise<void> {
  if (touches.length === 0) return;
  await AttributionTouch.insertMany(touches, { ordered: false, lean: true }).catch((err: unknown) => {
    if (!isDuplicateKey(err)) throw err;
  });
  for (const leadId of new Set(touches.map((t) => String(t.leadId)))) await recomputeAttribution(leadId);
}

/**
 * Sets `lead.attribution` from the lead's touch records: first = the earliest, last = the latest.
 * Concurrent writers may interleave (FerretDB does not make updates atomic), so a writer checks
 * after its write that no touch arrived since it read, and recomputes if one did: the last write
 * always saw every touch.
 */
export async function recomputeAttribution(leadId: string | Types.ObjectId): Promise<void> {
  const id = new Types.ObjectId(String(leadId));
  for (let attempt = 0; attempt < 5; attempt++) {
    // a plain equality filter: the only kind FerretDB hands to its backend; ordering happens here
    const touches = await AttributionTouch.find({ leadId: id }).lean<TouchDoc[]>();
    const a = attributionOf(touches.map((t) => ({ ...t, key: t._id })));
    const attribution = a ? { firstTouch: touchView(a.firstTouch), lastTouch: touchView(a.lastTouch) } : null;
    await Lead.updateOne({ _id: id }, { $set: { attribution } });
    if ((await AttributionTouch.countDocuments({ leadId: id })) === touches.length) return;
  }
}

/** Turns page views into `page_view` events of the lead, and the campaign ones into touches. */
async function attachVisits(visits: AnonymousVisitDoc[], leadId: Types.ObjectId, anonymous: boolean) {
  if (visits.length === 0) return;
  await recordEvents(visits.map((v) => pageViewEvent(v, leadId, anonymous)));
  await recordTouches(
    visits
      .filter((v) => hasCampaign(v))
      .map((v) => ({
        _id: `pv:${v.visitor}:${v.pv}`,
        leadId,
        at: v.at,
        ...campaignOf(v),
        landingPage: v.landingPage,
        ...(v.referrer ? { referrer: v.referrer } : {}),
      })),
  );
}

/**
 * A visitor becomes known as a lead (a form submission carrying its id, or a tracked email click):
 * the binding is written first, then its anonymous page views of the last 30 days become the
 * lead's `page_view` events (each once, by key) and are removed from the anonymous store. A page
 * view racing with this either is seen here or sees the binding itself (recordPageView).
 */
export async function identifyVisitor(
  visitor: string,
  leadId: string | Types.ObjectId,
  via: 'form' | 'email_click',
  at: Date,
): Promise<{ attached: number }> {
  const lead = new Types.ObjectId(String(leadId));
  await TrackedVisitor.updateOne(
    { _id: visitor },
    { $set: { leadId: lead, identifiedAt: at, via } },
    { upsert: true },
  );
  const since = new Date(at.getTime() - anonymousRetentionMs);
  const stored = await readAnonymousVisits(visitor);
  const visits = stored
    .filter((v) => v.at >= since)
    .sort((a, b) => a.at.getTime() - b.at.getTime())
    .slice(-maxAttached);
  await attachVisits(visits, lead, true);
  // a page view stored after the read above sees the binding and attaches itself (recordPageView)
  await forgetAnonymousVisits(visitor, stored);
  return { attached: visits.length };
}

/** The live lead (a merged lead's survivor) of an id, or undefined when it no longer exists. */
async function liveLead(id: string | Types.ObjectId): Promise<Types.ObjectId | undefined> {
  try {
    return (await resolveLead(String(id)))._id;
  } catch {
    return undefined;
  }
}

/**
 * One page view from the snippet: the lead's `page_view` event when the visitor is known (or a
 * lead token identifies it now), else an anonymous visit kept for later identification.
 */
export async function recordPageView(input: PageViewInput): Promise<{ leadId: string | null }> {
  const page = describePage(input.url);
  const visit: AnonymousVisitDoc = {
    _id: '',
    visitor: input.visitor,
    pv: input.pageViewId,
    at: input.at,
    host: page.host,
    path: page.path,
    title: input.title || null,
    referrer: cleanReferrer(input.referrer) ?? null,
    landingPage: page.landingPage,
    ...page.campaign,
  };
  if (input.leadId) {
    const lead = await liveLead(input.leadId);
    if (lead) {
      await identifyVisitor(input.visitor, lead, 'email_click', input.at);
      await attachVisits([visit], lead, false);
      return { leadId: String(lead) };
    }
  }
  const known = await TrackedVisitor.findById(input.visitor, { leadId: 1 }).lean();
  if (known) {
    await attachVisits([visit], known.leadId, false);
    return { leadId: String(known.leadId) };
  }
  const { _id: _unused, ...fields } = visit;
  const slot = await storeAnonymousVisit(fields);
  // identification may have run between the lookup and the insert, without seeing this visit
  const now = await TrackedVisitor.findById(input.visitor, { leadId: 1 }).lean();
  if (!now) return { leadId: null };
  await attachVisits([visit], now.leadId, true);
  if (slot) await forgetAnonymousVisits(input.visitor, [{ _id: slot }]);
  return { leadId: String(now.leadId) };
}

/** Names of the tracking fields a form may carry (the embed and the snippet add them); never lead data. */
export const trackingFieldNames: readonly string[] = ['lf_vid', 'lf_page', 'lf_ref', ...campaignParams];

/**
 * After a form submission was captured: a signed visitor id (`lf_vid`) identifies the visitor
 * as the lead; campaign parameters become a touch of the lead's attribution. A visitor id that
 * leadflow did not sign is ignored.
 */
export async function trackFormSubmission(
  secret: string,
  leadId: string,
  fields: Record<string, unknown>,
  at: Date,
): Promise<{ identified: boolean; attached: number }> {
  const lead = new Types.ObjectId(leadId);
  const campaign = campaignFrom(fields);
  if (hasCampaign(campaign)) {
    const landing = httpUrl(fields.lf_page);
    const referrer = cleanReferrer(fields.lf_ref);
    await recordTouches([
      {
        _id: `form:${String(new Types.ObjectId())}`,
        leadId: lead,
        at,
        ...campaign,
        ...(landing ? { landingPage: `${landing.origin}${landing.pathname}` } : {}),
        ...(referrer ? { referrer } : {}),
      },
    ]);
  }
  const visitor = verifyVisitorId(secret, fields.lf_vid);
  if (!visitor) return { identified: false, attached: 0 };
  const { attached } = await identifyVisitor(visitor, lead, 'form', at);
  return { identified: true, attached };
}
