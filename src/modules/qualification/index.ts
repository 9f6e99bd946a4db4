export {
  HandoffRequest,
  handoffRequestId,
  handoffJobId,
  takenUpdate,
  backfillOpenFlag,
  openRequestsFilter,
  type HandoffRequestDoc,
} from './handoff-request.model.js';
export { QualificationAgreement, type AgreementDoc } from './agreement.model.js';
export {
  currentAgreement,
  agreementVersion,
  getAgreements,
  putAgreement,
  type AgreementJson,
} from './agreement.service.js';
export { evaluateLead, evaluateLeads, type EvaluationOutcome } from './qualification.service.js';
export { reconcileQualification, sweepAgreement } from './reevaluate.service.js';
export { bantGiven, gradeAtLeast, evaluateCriteria } from './qualification.logic.js';
export { qualificationProcessor, qualificationSweepProcessor } from './qualification.jobs.js';
export { qualificationRoutes } from './qualification.routes.js';
