import type { AreaRoutes } from '../../lib/app-types.js';
import { parseInput } from '../../lib/http.js';
import { allow } from '../admin/index.js';
import { getAgreements, putAgreement } from './agreement.service.js';
import { agreementInputSchema, agreementQuery } from './qualification.schemas.js';

/** `/api/qualification`: the versioned agreement marketing and sales share. */
export const qualificationRoutes: AreaRoutes = {
  name: 'qualification',
  api: (api) => {
    api.put('/qualification', allow('marketing'), async (req, res) => {
      const input = parseInput(agreementInputSchema, req.body);
      res.json(await putAgreement(input, req.auth?.keyId ?? null));
    });
    api.get('/qualification', allow('marketing', 'sales'), async (req, res) => {
      parseInput(agreementQuery, req.query, 'unknown query parameter');
      res.json(await getAgreements());
    });
  },
};
