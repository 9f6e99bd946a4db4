// Every lead event is recorded through recordEvents() (one collection, LeadEvent, unique `key`).
// The store lives with the lead it belongs to (leads records submissions, status and stage
// changes, merges, and serves the timeline); higher areas import it from here. Website tracking
// joins this area. Every recorded event is handed to scoring (the `scoring` queue).
export {
  campaignParams,
  campaignFrom,
  type Campaign,
  type CampaignParam,
  type Touch,
} from './attribution.logic.js';
export {
  newVisitorId,
  verifyVisitorId,
  signLeadToken,
  verifyLeadToken,
  wantsLeadToken,
  withLeadToken,
} from './visitor.tokens.js';
export {
  identifyVisitor,
  recordPageView,
  recomputeAttribution,
  trackFormSubmission,
  trackingFieldNames,
} from './tracking.service.js';
export {
  purgeAnonymousVisits,
  readAnonymousVisits,
  anonymousRetentionMs,
  maxAnonymousSlots,
} from './anonymous-visits.service.js';
export { AnonymousVisit, AnonymousVisitor, AttributionTouch, TrackedVisitor } from './tracking.model.js';
export { pasteSnippet, trackingScript } from './tracking.snippet.js';
export { trackingRoutes } from './tracking.routes.js';
export {
  LeadEvent,
  minutesBetween,
  recordEvents,
  recordEvent,
  unscoredEventTypes,
  type EventDoc,
  type NewEvent,
} from '../leads/index.js';
export { ingestEvents } from './ingest.service.js';
export { eventRoutes } from './events.routes.js';
