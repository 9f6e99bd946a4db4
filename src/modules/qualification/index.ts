export { HandoffRequest, handoffRequestId, type HandoffRequestDoc } from './handoff-request.model.js';
