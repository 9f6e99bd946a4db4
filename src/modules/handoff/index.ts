import { registerLeadOwnedCollection } from '../leads/index.js';

// a lead's handoffs move with a merge and go with an erasure
registerLeadOwnedCollection('handoffs');

export {
  convertLead,
  convertLeadManually,
  type ConvertOptions,
  type ConversionResult,
} from './conversion.service.js';
export {
  processHandoffRequest,
  advanceHandoff,
  assignWaitingHandoffs,
  toHandoffJson,
} from './handoff.service.js';
export { acceptHandoff, rejectHandoff } from './decision.service.js';
export { listHandoffs } from './list.service.js';
export { checkSla } from './sla.service.js';
export { handoffProcessor, reconcileHandoffs } from './handoff.jobs.js';
export { putRep, getRep, listReps, repDirectory } from './rep.service.js';
export { listOpportunities, getOpportunity, patchOpportunity } from './opportunity.service.js';
export { handoffRoutes } from './handoff.routes.js';
export { Handoff, HandoffClaim, handoffStatuses, type HandoffDoc } from './handoff.model.js';
export { Rep, type RepDoc } from './rep.model.js';
export { chooseRep, repMatches } from './assignment.logic.js';
export { companyDomain, freeMailDomains, normalizeCompanyName } from './conversion.logic.js';
export { agreementTerms, latestAgreementVersion } from './agreement.js';
export { rejectBody, opportunityPatch } from './handoff.schemas.js';
