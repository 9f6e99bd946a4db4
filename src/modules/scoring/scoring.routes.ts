import type { Request } from 'express';
import { z } from 'zod';
import type { AreaRoutes } from '../../lib/app-types.js';
import { parseInput } from '../../lib/http.js';
import { allow } from '../admin/index.js';
import { requireQueueConnection } from '../leads/index.js';
import { getRulesetView, putRuleset, rescoreStatus } from './ruleset.service.js';
import { parseRuleset, rulesetQuery } from './scoring.schemas.js';
import { getLeadScore } from './scoring.service.js';

const idParam = z.object({ id: z.string().regex(/^[a-f0-9]{24}$/, 'must be a lead id') });
const noQuery = z.strictObject({});
const id = (req: Request) => parseInput(idParam, req.params).id;

/** `/api/scoring` (rule sets, rescoring progress) and `/api/leads/:id/score` (the ledger). */
export const scoringRoutes: AreaRoutes = {
  name: 'scoring',
  api: (api, deps) => {
    const marketing = allow('marketing');
    api.put('/scoring', marketing, requireQueueConnection(deps.redis), async (req, res) => {
      const input = parseRuleset(req.body);
      res.json(await putRuleset(input, req.auth?.keyId ?? null));
    });
    api.get('/scoring', marketing, async (req, res) => {
      res.json(await getRulesetView(parseInput(rulesetQuery, req.query).version));
    });
    api.get('/scoring/rescore', marketing, async (req, res) => {
      parseInput(noQuery, req.query);
      res.json({ rescore: await rescoreStatus() });
    });
    api.get('/leads/:id/score', allow('marketing', 'sales'), async (req, res) => {
      const leadId = id(req);
      parseInput(noQuery, req.query);
      res.json(await getLeadScore(leadId));
    });
  },
};
