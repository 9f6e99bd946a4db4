import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import type { Payload } from '../../queues/index.js';
import { evaluateLeads } from './qualification.service.js';
import { sweepAgreement } from './reevaluate.service.js';

/** qualification: evaluate the agreement for one lead or a batch of leads. */
export function qualificationProcessor(_rt: Runtime) {
  return async (payload: Payload<'qualification'>, { log }: { log: Logger }) => {
    const ids = 'leadIds' in payload ? payload.leadIds : [payload.leadId];
    const outcomes = await evaluateLeads(ids, log);
    return ids.length === 1 ? outcomes.get(ids[0]!) : { leads: ids.length };
  };
}

/** qualification-sweep: hand one chunk of open leads to re-evaluation after an agreement change. */
export function qualificationSweepProcessor(_rt: Runtime) {
  return (payload: Payload<'qualification-sweep'>, { log }: { log: Logger }) => sweepAgreement(payload, log);
}
