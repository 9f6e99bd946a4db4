export {
  exitEnrollmentsForLead,
  enrollLead,
  advanceEnrollment,
  reconcileSequences,
  enrollCapturedLead,
  getSequence,
} from './sequences.service.js';
export { Enrollment } from './enrollment.model.js';
export { SequenceVersion } from './sequence.model.js';
export { sequenceRoutes } from './sequences.routes.js';
export { nurtureProcessor, leadCapturedProcessor, leadSuppressedProcessor } from './sequences.jobs.js';
