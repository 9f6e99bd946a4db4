export { LeadEvent, type EventDoc } from './event.model.js';
export { recordEvents, recordEvent, type NewEvent } from './events.service.js';
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
  purgeAnonymousVisits,
  anonymousRetentionMs,
} from './tracking.service.js';
export { AnonymousVisit, AttributionTouch, TrackedVisitor } from './tracking.model.js';
export { pasteSnippet, trackingScript } from './tracking.snippet.js';
export { trackingRoutes } from './tracking.routes.js';
