import type { AreaRoutes } from '../../lib/app-types.js';
import { parseInput } from '../../lib/http.js';
import { allow } from '../admin/index.js';
import { funnelCsv } from './funnel.logic.js';
import { funnelQuery } from './reports.schemas.js';
import { funnelReport } from './reports.service.js';

/** `GET /api/reports/funnel` (JSON or `?format=csv`), for marketing and sales. */
export const reportRoutes: AreaRoutes = {
  name: 'reports',
  api: (api) => {
    api.get('/reports/funnel', allow('marketing', 'sales'), async (req, res) => {
      const q = parseInput(funnelQuery, req.query);
      const report = await funnelReport(q);
      if (q.format === 'csv') {
        const rows = [
          { key: 'all', stages: report.stages, conversion: report.conversion },
          ...(report.groups ?? []),
        ];
        res.setHeader('Content-Disposition', 'attachment; filename="funnel.csv"');
        res.type('text/csv; charset=utf-8').send(funnelCsv(rows));
        return;
      }
      res.json(report);
    });
  },
};
