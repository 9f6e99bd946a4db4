import type { AreaRoutes } from '../../lib/app-types.js';
import { parseQuery } from '../../lib/http.js';
import { allow } from '../admin/index.js';
import { getAccount, getContact } from './crm.service.js';

/** `GET /api/contacts/:id`, `GET /api/accounts/:id` (records created by conversion). */
export const crmRoutes: AreaRoutes = {
  name: 'crm',
  api: (api) => {
    api.get('/contacts/:id', allow('marketing', 'sales'), async (req, res) => {
      parseQuery({}, req.query);
      res.json(await getContact(String(req.params.id)));
    });
    api.get('/accounts/:id', allow('marketing', 'sales'), async (req, res) => {
      parseQuery({}, req.query);
      res.json(await getAccount(String(req.params.id)));
    });
  },
};
