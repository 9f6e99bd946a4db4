import express, { type Router } from 'express';
import type { AppDeps, AreaRoutes } from '../../lib/app-types.js';
import { parseInput, parseQuery } from '../../lib/http.js';
import { allow } from '../admin/index.js';
import {
  deliveryParams,
  listDeliveriesQuery,
  listWebhooksQuery,
  putWebhookBody,
  webhookIdParams,
} from './webhooks.schemas.js';
import {
  deleteWebhook,
  getDelivery,
  getWebhook,
  listDeliveries,
  listWebhooks,
  putWebhook,
  redeliver,
} from './webhooks.service.js';

function routes(deps: AppDeps): Router {
  const r = express.Router();
  // admin only: a webhook sends lead data to a URL outside leadflow, an operator's decision
  r.use(allow('admin'));
  const idOf = (params: unknown) => parseInput(webhookIdParams, params, 'unknown webhook id').id;

  r.get('/', async (req, res) => {
    res.json(await listWebhooks(parseInput(listWebhooksQuery, req.query)));
  });
  r.put('/:id', async (req, res) => {
    const id = idOf(req.params);
    const body = parseInput(putWebhookBody, req.body ?? {}, 'the webhook is not valid');
    // 200 like every PUT of the API (forms, sequences): create or replace one resource
    res.json(await putWebhook(id, body, { allowPrivate: deps.config.webhooks.allowPrivate }));
  });
  r.get('/:id', async (req, res) => {
    parseQuery({}, req.query);
    res.json(await getWebhook(idOf(req.params)));
  });
  r.delete('/:id', async (req, res) => {
    await deleteWebhook(idOf(req.params));
    res.status(204).end();
  });
  r.get('/:id/deliveries', async (req, res) => {
    const id = idOf(req.params);
    res.json(await listDeliveries(id, parseInput(listDeliveriesQuery, req.query)));
  });
  r.get('/:id/deliveries/:deliveryId', async (req, res) => {
    parseQuery({}, req.query);
    const p = parseInput(deliveryParams, req.params);
    res.json(await getDelivery(p.id, p.deliveryId));
  });
  r.post('/:id/deliveries/:deliveryId/redeliver', async (req, res) => {
    const p = parseInput(deliveryParams, req.params);
    res.status(202).json(await redeliver(p.id, p.deliveryId));
  });
  return r;
}

/** /api/webhooks: receivers of lead and handoff events, their deliveries and redelivery. */
export const webhookRoutes: AreaRoutes = {
  name: 'webhooks',
  api: (api, deps) => {
    api.use('/webhooks', routes(deps));
  },
};
