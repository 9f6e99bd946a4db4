// Every lead event is recorded through recordEvents() (one collection, LeadEvent, unique `key`).
// The store lives with the lead it belongs to (leads records submissions, status and stage
// changes, merges, and serves the timeline); higher areas import it from here. Website tracking
// joins this area.
export { LeadEvent, recordEvents, recordEvent, type EventDoc, type NewEvent } from '../leads/index.js';
