import mongoose, { Schema, type Types } from 'mongoose';
import { registerLeadOwnedCollection } from '../leads/index.js';

const campaignFields = {
  utm_source: { type: String, default: undefined },
  utm_medium: { type: String, default: undefined },
  utm_campaign: { type: String, default: undefined },
  utm_term: { type: String, default: undefined },
  utm_content: { type: String, default: undefined },
  gclid: { type: String, default: undefined },
  fbclid: { type: String, default: undefined },
};

/**
 * A website visitor (`_id`: the random part of its signed id) once it is known as a lead. Looked up
 * by `_id` on every page view; the latest identification wins (a shared computer, a second
 * person). Lead-owned: a merge re-points it, an erasure deletes it.
 */
const visitorSchema = new Schema(
  {
    _id: { type: String, required: true },
    leadId: { type: Schema.Types.ObjectId, required: true },
    identifiedAt: { type: Date, required: true },
    /** how: `form` or `email_click` */
    via: { type: String, required: true },
  },
  { timestamps: true, strict: true, collection: 'trackedvisitors' },
);
// erasure and merge find a lead's visitors
visitorSchema.index({ leadId: 1 });
export type VisitorDoc = { _id: string; leadId: Types.ObjectId; identifiedAt: Date; via: string };
export const TrackedVisitor = mongoose.model('TrackedVisitor', visitorSchema);
registerLeadOwnedCollection('trackedvisitors');

/**
 * A page view of a visitor not known yet, kept until identification turns it into a `page_view`
 * event of the lead (at most 30 days back; older ones are purged). `_id` `<visitor>:<slot>`: the
 * visitor's slots 0, 1, 2... are claimed by insert, so identification finds every one of them by
 * `_id` alone (the only lookup FerretDB serves without scanning the collection) and none is lost
 * to a racing update.
 */
const anonymousVisitSchema = new Schema(
  {
    _id: { type: String, required: true },
    visitor: { type: String, required: true },
    /** the snippet's page-view id: a repeated beacon becomes one event (its key) */
    pv: { type: String, required: true },
    at: { type: Date, required: true },
    host: { type: String, required: true },
    path: { type: String, required: true },
    title: { type: String, default: null },
    referrer: { type: String, default: null },
    landingPage: { type: String, required: true },
    ...campaignFields,
  },
  { strict: true, collection: 'anonymousvisits', versionKey: false },
);
// retention: the purge of visits older than 30 days
anonymousVisitSchema.index({ at: 1 });
export type AnonymousVisitDoc = {
  _id: string;
  visitor: string;
  pv: string;
  at: Date;
  host: string;
  path: string;
  title: string | null;
  referrer: string | null;
  landingPage: string;
} & Partial<Record<keyof typeof campaignFields, string>>;
export const AnonymousVisit = mongoose.model('AnonymousVisit', anonymousVisitSchema);

/**
 * Where a visitor's next anonymous slot probably is (`next`): a hint only, since concurrent page
 * views may write it out of order; claiming a slot is the insert above. `_id`: the visitor.
 */
const anonymousVisitorSchema = new Schema(
  {
    _id: { type: String, required: true },
    next: { type: Number, required: true },
    lastSeenAt: { type: Date, required: true },
  },
  { strict: true, collection: 'anonymousvisitors', versionKey: false },
);
// retention: visitors not seen for 30 days
anonymousVisitorSchema.index({ lastSeenAt: 1 });
export const AnonymousVisitor = mongoose.model('AnonymousVisitor', anonymousVisitorSchema);

/**
 * One campaign touch of a lead: a page view or form submission carrying campaign parameters.
 * `_id` is the touch's source (`pv:<visitor>:<pageViewId>`, `form:<eventKey>`), so each counts
 * once. The lead's `attribution` is computed from these (earliest and latest), never set by a
 * conditional update that FerretDB could let two writers win.
 */
const touchSchema = new Schema(
  {
    _id: { type: String, required: true },
    leadId: { type: Schema.Types.ObjectId, required: true },
    at: { type: Date, required: true },
    landingPage: { type: String, default: undefined },
    referrer: { type: String, default: undefined },
    ...campaignFields,
  },
  { strict: true, collection: 'attributiontouches', versionKey: false },
);
// a lead's touches (attribution), and erasure / merge
touchSchema.index({ leadId: 1 });
export const AttributionTouch = mongoose.model('AttributionTouch', touchSchema);
registerLeadOwnedCollection('attributiontouches');
