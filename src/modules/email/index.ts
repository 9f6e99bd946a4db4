export {
  renderEmail,
  headerSafe,
  templateNamePattern,
  type EmailContent,
  type RenderLead,
  type RenderedEmail,
} from './render.js';
export { signToken, verifyToken, type TokenPayload } from './tokens.js';
export { deliverSend, suppressAddress, afterSuppression, reconcileSends } from './email.service.js';
export { recordOpen, recordClick, unsubscribeBySend } from './tracking.service.js';
export { emailRoutes } from './email.routes.js';
export { EmailSend, sendStatuses, type SendStatus, type SendDoc } from './send.model.js';
export { emailProcessor } from './email.jobs.js';
// the suppression list is its own area; email users may keep importing these from here
export { isSuppressed, suppressEmail } from '../suppression/index.js';
export { classifySmtpError, type SmtpFailure } from './delivery.js';
