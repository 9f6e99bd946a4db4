export {
  renderEmail,
  headerSafe,
  templateNamePattern,
  type EmailContent,
  type RenderLead,
  type RenderedEmail,
} from './render.js';
export { signToken, verifyToken, type TokenPayload } from './tokens.js';
export {
  deliverSend,
  isSuppressed,
  suppressEmail,
  suppressAddress,
  afterSuppression,
  reconcileSends,
  recordOpen,
  recordClick,
  unsubscribeBySend,
} from './email.service.js';
export { emailRoutes } from './email.routes.js';
export { EmailSend, sendStatuses, type SendStatus, type SendDoc } from './send.model.js';
