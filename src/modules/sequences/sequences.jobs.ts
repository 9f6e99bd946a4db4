import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import type { Payload } from '../../queues/index.js';
import { Lead, completeCapture } from '../leads/index.js';
import { advanceEnrollment, enrollCapturedLead, exitEnrollmentsForLead } from './sequences.service.js';

/** nurture: run an enrollment's due steps. */
export function nurtureProcessor(rt: Runtime) {
  return (payload: Payload<'nurture'>, { log }: { log: Logger }) =>
    advanceEnrollment(rt, payload.enrollmentId, log);
}

/**
 * lead-captured: enroll into the sequences the capture triggers (a person who opted out is not
 * enrolled, and leaves the sequences they were in); then the capture is no longer pending.
 */
export function leadCapturedProcessor(_rt: Runtime) {
  return async (payload: Payload<'lead-captured'>, { log }: { log: Logger }) => {
    const lead = await Lead.findById(payload.leadId, { unsubscribed: 1 }).lean();
    const enrolled = lead?.unsubscribed ? [] : await enrollCapturedLead(payload, log);
    if (lead?.unsubscribed) await exitEnrollmentsForLead(payload.leadId, 'unsubscribed');
    await completeCapture(payload.leadId);
    return { enrolled };
  };
}
