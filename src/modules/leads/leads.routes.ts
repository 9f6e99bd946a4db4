import type { Request } from 'express';
import { z } from 'zod';
import type { AreaRoutes } from '../../lib/app-types.js';
import { parseInput, parseQuery } from '../../lib/http.js';
import { allow } from '../admin/index.js';
import { captureLead, requireQueueConnection } from './capture.service.js';
import { withIdempotency } from './idempotency.service.js';
import {
  leadInputSchema,
  leadListQuery,
  leadPatchSchema,
  mergeSchema,
  objectIdParam,
  timelineQuery,
} from './lead.schemas.js';
import {
  deleteLead,
  findDuplicates,
  getLead,
  getTimeline,
  listLeads,
  mergeLeads,
  patchLead,
} from './lead.service.js';

const idempotencyHeader = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 visible ASCII characters')
  .optional();

const id = (req: Request) => parseInput(objectIdParam, req.params).id;

/** `/api/leads`: create (deduplicated, Idempotency-Key), list, read, patch, erase, duplicates, merge, timeline. */
export const leadRoutes: AreaRoutes = {
  name: 'leads',
  api: (api, deps) => {
    const write = allow('marketing');
    const read = allow('marketing', 'sales');

    api.post('/leads', write, requireQueueConnection(deps.redis), async (req, res) => {
      const input = parseInput(leadInputSchema, req.body);
      const key = parseInput(idempotencyHeader, req.get('Idempotency-Key'), 'Idempotency-Key is not valid');
      const run = async () => {
        const r = await captureLead(input, { via: 'api' });
        return { status: r.created ? 201 : 200, body: await getLead(r.leadId!) };
      };
      const answer = key
        ? await withIdempotency(`${req.auth!.keyId}:POST /api/leads:${key}`, req.body, run)
        : { ...(await run()), replayed: false };
      if (answer.replayed) res.setHeader('Idempotent-Replayed', 'true');
      res.status(answer.status).json(answer.body);
    });

    api.get('/leads', read, async (req, res) => {
      res.json(await listLeads(parseQuery(leadListQuery, req.query)));
    });

    api.get('/leads/:id', read, async (req, res) => {
      parseQuery({}, req.query);
      res.json(await getLead(id(req)));
    });

    api.patch('/leads/:id', read, async (req, res) => {
      const leadId = id(req);
      res.json(await patchLead(leadId, parseInput(leadPatchSchema, req.body ?? {}), req.auth!.role));
    });

    api.delete('/leads/:id', write, async (req, res) => {
      await deleteLead(id(req));
      res.status(204).end();
    });

    api.get('/leads/:id/duplicates', read, async (req, res) => {
      parseQuery({}, req.query);
      res.json(await findDuplicates(id(req)));
    });

    api.post('/leads/:id/merge', write, async (req, res) => {
      const leadId = id(req);
      res.json(await mergeLeads(leadId, parseInput(mergeSchema, req.body).ids));
    });

    api.get('/leads/:id/timeline', read, async (req, res) => {
      const leadId = id(req);
      res.json(await getTimeline(leadId, parseQuery(timelineQuery, req.query)));
    });
  },
};
