import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import type { Payload } from '../../queues/index.js';
import { completeCapture } from '../leads/index.js';
import { enrollCapturedLead, exitEnrollmentsForLead } from './enrollments.service.js';
import { advanceEnrollment } from './step-runner.service.js';

/** nurture: run an enrollment's due steps. */
export function nurtureProcessor(rt: Runtime) {
  return (payload: Payload<'nurture'>, { log }: { log: Logger }) =>
    advanceEnrollment(rt, payload.enrollmentId, log);
}

/** lead-captured: enroll into the sequences the capture triggers; then the capture is no longer pending. */
export function leadCapturedProcessor(_rt: Runtime) {
  return async (payload: Payload<'lead-captured'>, { log }: { log: Logger }) => {
    // an opted-out person is refused by enrollLead; lead-suppressed ends what they were in
    const enrolled = await enrollCapturedLead(payload, log);
    await completeCapture(payload.leadId);
    return { enrolled };
  };
}

/** lead-suppressed: an address of the lead was suppressed, so every enrollment of it ends now. */
export function leadSuppressedProcessor(_rt: Runtime) {
  return async (payload: Payload<'lead-suppressed'>) => ({
    // exit reasons speak the sequence's `exitOn` vocabulary ("unsubscribed")
    exited: await exitEnrollmentsForLead(
      payload.leadId,
      payload.reason === 'unsubscribe' ? 'unsubscribed' : payload.reason,
    ),
  });
}
