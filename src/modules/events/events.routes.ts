import type { AreaRoutes } from '../../lib/app-types.js';
import { AppError } from '../../lib/errors.js';
import { parseInput } from '../../lib/http.js';
import { allow } from '../admin/index.js';
import { requireQueueConnection } from '../leads/index.js';
import { ingestEvents } from './ingest.service.js';
import { eventsBody, maxBatch } from './events.schemas.js';

/** `POST /api/events`: engagement events from outside (and the internal types), for scoring. */
export const eventRoutes: AreaRoutes = {
  name: 'events',
  api: (api, deps) => {
    api.post('/events', allow('marketing'), requireQueueConnection(deps.redis), async (req, res) => {
      const body = parseInput(eventsBody, req.body);
      if (body.events.length > maxBatch) {
        throw new AppError(
          413,
          'payload_too_large',
          `at most ${maxBatch} events per request (got ${body.events.length})`,
          [{ path: 'events', message: `at most ${maxBatch} events` }],
        );
      }
      res.status(202).json(await ingestEvents(body.events));
    });
  },
};
