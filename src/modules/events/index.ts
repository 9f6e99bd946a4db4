export { LeadEvent, type EventDoc } from './event.model.js';
export { recordEvents, recordEvent, unscoredEventTypes, type NewEvent } from './events.service.js';
export { ingestEvents } from './ingest.service.js';
export { eventRoutes } from './events.routes.js';
