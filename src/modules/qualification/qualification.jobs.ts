import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import type { Payload } from '../../queues/index.js';
import { evaluateLead } from './qualification.service.js';
import { sweepAgreement } from './reevaluate.service.js';

/** qualification: evaluate the agreement for one lead. */
export function qualificationProcessor(_rt: Runtime) {
  return (payload: Payload<'qualification'>, { log }: { log: Logger }) => evaluateLead(payload.leadId, log);
}

/** qualification-sweep: hand one chunk of open leads to re-evaluation after an agreement change. */
export function qualificationSweepProcessor(_rt: Runtime) {
  return (payload: Payload<'qualification-sweep'>, { log }: { log: Logger }) => sweepAgreement(payload, log);
}
