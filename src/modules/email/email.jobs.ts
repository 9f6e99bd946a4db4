import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import type { Payload } from '../../queues/index.js';
import { deliverSend } from './email.service.js';

/** email: render and send one recorded send, at most once. */
export function emailProcessor(rt: Runtime) {
  return (payload: Payload<'email'>, { log }: { log: Logger }) => deliverSend(rt, payload.sendId, log);
}
