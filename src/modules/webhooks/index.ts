export { emitWebhookEvent } from './emit.service.js';
export {
  deliverWebhook,
  reconcileWebhookDeliveries,
  purgeWebhookHistory,
  signedRequest,
} from './delivery.service.js';
export { webhookRoutes } from './webhooks.routes.js';
export { Webhook, webhookEventTypes, type WebhookEventType, type WebhookDoc } from './webhook.model.js';
export {
  WebhookEvent,
  WebhookDelivery,
  WebhookAttempt,
  deliveryId,
  attemptId,
  type WebhookDeliveryDoc,
} from './delivery.model.js';
export { addressRefusal } from './address-policy.js';
export { generateSecret, signPayload } from './signature.js';
export { postWebhook } from './webhook-post.js';
