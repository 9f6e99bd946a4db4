export { Suppression, suppressionReasons, type SuppressionReason } from './suppression.model.js';
export { emailKey, emailHash, isSuppressed, suppressEmail } from './suppression.service.js';
