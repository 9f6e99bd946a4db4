import type { Request } from 'express';
import type { AreaRoutes } from '../../lib/app-types.js';
import { listQuery, parseInput, parseQuery } from '../../lib/http.js';
import { allow } from '../admin/index.js';
import { agreementTerms } from './agreement.js';
import { convertLeadManually } from './conversion.service.js';
import { acceptHandoff, rejectHandoff } from './decision.service.js';
import {
  convertBody,
  handoffListQuery,
  handoffParam,
  objectIdParam,
  opportunityListQuery,
  opportunityPatch,
  rejectBody,
  repBody,
  repParam,
} from './handoff.schemas.js';
import { listHandoffs } from './list.service.js';
import { getOpportunity, listOpportunities, patchOpportunity } from './opportunity.service.js';
import { handoffPages } from './handoff.pages.js';
import { getRep, listReps, putRep } from './rep.service.js';
import { latestAgreementVersion } from './agreement.js';

/** Who acted: the rep a sales key is tied to, else the key's name. */
const actor = (req: Request) => req.auth?.repId ?? `key:${req.auth?.name ?? 'unknown'}`;

/** `/api/reps`, `/api/handoffs`, `/api/opportunities`, `POST /api/leads/:id/convert`, and `/h/:token`. */
export const handoffRoutes: AreaRoutes = {
  name: 'handoff',
  public: handoffPages,
  api: (api) => {
    const sales = allow('sales');
    api.put('/reps/:id', allow('admin'), async (req, res) => {
      const { id } = parseInput(repParam, req.params);
      res.json(await putRep(id, parseInput(repBody, req.body ?? {})));
    });
    api.get('/reps', allow('sales', 'marketing'), async (req, res) => {
      res.json(await listReps(parseQuery(listQuery, req.query)));
    });
    api.get('/reps/:id', allow('sales', 'marketing'), async (req, res) => {
      parseQuery({}, req.query);
      res.json(await getRep(parseInput(repParam, req.params).id));
    });

    api.get('/handoffs', sales, async (req, res) => {
      res.json(await listHandoffs(parseInput(handoffListQuery, req.query), req.auth?.repId));
    });
    api.post('/handoffs/:id/accept', sales, async (req, res) => {
      res.json(await acceptHandoff(parseInput(handoffParam, req.params).id, actor(req)));
    });
    api.post('/handoffs/:id/reject', sales, async (req, res) => {
      const { id } = parseInput(handoffParam, req.params);
      res.json(await rejectHandoff(id, parseInput(rejectBody, req.body ?? {}), actor(req)));
    });

    api.get('/opportunities', allow('sales', 'marketing'), async (req, res) => {
      res.json(await listOpportunities(parseInput(opportunityListQuery, req.query)));
    });
    api.get('/opportunities/:id', allow('sales', 'marketing'), async (req, res) => {
      parseQuery({}, req.query);
      res.json(await getOpportunity(parseInput(objectIdParam, req.params).id));
    });
    api.patch('/opportunities/:id', sales, async (req, res) => {
      const { id } = parseInput(objectIdParam, req.params);
      res.json(await patchOpportunity(id, parseInput(opportunityPatch, req.body ?? {}), actor(req)));
    });

    api.post('/leads/:id/convert', allow('marketing', 'sales'), async (req, res) => {
      const { id } = parseInput(objectIdParam, req.params);
      const body = parseInput(convertBody, req.body ?? {});
      const terms = await agreementTerms(await latestAgreementVersion());
      res.json(await convertLeadManually(id, { ...body, terms }));
    });
  },
};
