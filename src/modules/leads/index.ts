export {
  Lead,
  leadStatuses,
  lifecycleStages,
  leadFields,
  type LeadDoc,
  type LeadStatus,
  type LifecycleStage,
} from './lead.model.js';
export { emailKey, cleanText, countryCode, phoneE164, isChecked } from './normalize.js';
export {
  leadListQuery,
  leadInputSchema,
  attributesSchema,
  attributeName,
  nameText,
  safeText,
  bantValue,
  bantKeys,
  type BantKey,
  type LeadInput,
} from './lead.schemas.js';
export { normalizeLeadInput, fillEmptyFields, type NormalizedLead } from './normalize-input.js';
export {
  captureLeads,
  captureLead,
  requireQueueConnection,
  type CaptureContext,
  type CaptureResult,
  type CaptureVia,
} from './capture.service.js';
export { reconcileCaptures, completeCapture, captureGraceMs } from './capture-reconcile.service.js';
export { ensureEmailRegistry } from './email-registry.service.js';
export { EmailClaim, type EmailClaimDoc } from './email-claim.model.js';
export { toLeadJson, escapeRegex, type LeadJson } from './lead.view.js';
export {
  getLead,
  resolveLead,
  listLeads,
  patchLead,
  deleteLead,
  findDuplicates,
  mergeLeads,
  getTimeline,
  registerLeadOwnedCollection,
} from './lead.service.js';
export { leadRoutes } from './leads.routes.js';
export { purgeIdempotencyKeys } from './idempotency.service.js';
export { stageDatePaths, isLaterStage } from './stages.js';
export { LeadEvent, minutesBetween, type EventDoc } from './lead-event.model.js';
export { recordEvents, recordEvent, unscoredEventTypes, type NewEvent } from './lead-events.service.js';
