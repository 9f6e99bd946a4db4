// Every lead event is recorded through recordEvents() (one collection, LeadEvent, unique `key`).
// The store lives with the lead it belongs to (leads records submissions, status and stage
// changes, merges, and serves the timeline); higher areas import it from here. Website tracking
// joins this area. Every recorded event is handed to scoring (the `scoring` queue).
export {
  LeadEvent,
  recordEvents,
  recordEvent,
  unscoredEventTypes,
  type EventDoc,
  type NewEvent,
} from '../leads/index.js';
export { ingestEvents } from './ingest.service.js';
export { eventRoutes } from './events.routes.js';
