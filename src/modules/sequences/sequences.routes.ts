import type { Router } from 'express';
import express from 'express';
import type { AppDeps, AreaRoutes } from '../../lib/app-types.js';
import { listQuery, parseInput, parseQuery } from '../../lib/http.js';
import { allow } from '../admin/index.js';
import {
  enrollBodySchema,
  getSequenceQuerySchema,
  previewBodySchema,
  sequenceDefinitionSchema,
  sequenceKey,
} from './sequences.schemas.js';
import { enrollLead } from './enrollments.service.js';
import { getSequence, listSequences, putSequence } from './sequence-versions.service.js';
import { previewSequence } from './sequence-preview.service.js';
import { sequenceStats } from './sequence-stats.service.js';

const keyParam = (params: Record<string, unknown>) =>
  parseInput(sequenceKey, params.key, 'unknown sequence key');

function routes(deps: AppDeps): Router {
  const r = express.Router();
  const read = allow('marketing', 'sales');
  const write = allow('marketing');

  r.get('/', read, async (req, res) => {
    const q = parseQuery(listQuery, req.query);
    res.json(await listSequences(q));
  });

  r.put('/:key', write, async (req, res) => {
    const key = keyParam(req.params);
    const def = parseInput(sequenceDefinitionSchema, req.body, 'the sequence definition is not valid');
    // 200 like every PUT of the API (forms, scoring): each PUT is a new version of one resource
    res.json(await putSequence(key, def));
  });

  r.get('/:key', read, async (req, res) => {
    const key = keyParam(req.params);
    const q = parseQuery(getSequenceQuerySchema, req.query);
    res.json(await getSequence(key, q.version));
  });

  r.post('/:key/enroll', write, async (req, res) => {
    const key = keyParam(req.params);
    const body = parseInput(enrollBodySchema, req.body ?? {});
    res.status(201).json(await enrollLead(key, body.leadId, req.log));
  });

  // a preview renders and sends nothing: reading
  r.post('/:key/preview', read, async (req, res) => {
    const key = keyParam(req.params);
    const body = parseInput(previewBodySchema, req.body ?? {});
    res.json(await previewSequence(deps, key, body));
  });

  r.get('/:key/stats', read, async (req, res) => {
    const key = keyParam(req.params);
    parseQuery({}, req.query);
    res.json(await sequenceStats(key));
  });

  return r;
}

/** /api/sequences: marketing designs sequences and enrolls leads; sales may read. */
export const sequenceRoutes: AreaRoutes = {
  name: 'sequences',
  api: (api, deps) => {
    api.use('/sequences', routes(deps));
  },
};
