export { keyRoutes, healthRoutes, metricsRoutes } from './admin.routes.js';
export { authenticate, allow } from './auth.js';
export {
  createApiKey,
  authenticateKey,
  principalForKeyHash,
  hashKey,
  listApiKeys,
  revokeApiKey,
  isActiveKey,
  ensureBootstrapKey,
  type Principal,
} from './admin.service.js';
export { roles, type Role } from './api-key.model.js';
export { queuesBoard } from './queues-board.js';
