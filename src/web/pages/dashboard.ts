import type { Router } from 'express';
import { z } from 'zod';
import { parseInput } from '../../lib/http.js';
import { clock } from '../../lib/clock.js';
import { lifecycleStages } from '../../modules/leads/index.js';
import { funnelCsv, funnelReport } from '../../modules/reports/index.js';
import { barChart } from '../charts.js';
import { renderView } from '../views.js';
import { page, type WebDeps } from '../page.js';

const periods = { '30d': 30, '90d': 90, '365d': 365, all: 0 } as const;
const dashboardQuery = z.strictObject({
  period: z.enum(Object.keys(periods) as [keyof typeof periods]).default('90d'),
});

const stageNames: Record<string, string> = {
  subscriber: 'Subscribers',
  lead: 'Leads',
  mql: 'MQLs',
  sql: 'SQLs',
  opportunity: 'Opportunities',
  customer: 'Customers',
};

const stepNames: Record<string, string> = {
  leadToMql: 'Lead → MQL',
  mqlToSql: 'MQL → SQL',
  sqlToOpportunity: 'SQL → Opportunity',
  opportunityToCustomer: 'Opportunity → Customer',
};

/** `/app`: the funnel subscriber → customer for a period, conversion rates, time in stage. */
const csvQuery = z.strictObject({
  period: dashboardQuery.shape.period,
  by: z.enum(['source', 'campaign', 'sequence']).optional(),
});

const fromOf = (period: keyof typeof periods) =>
  periods[period] ? new Date(clock.now().getTime() - periods[period] * 86_400_000) : undefined;

export function dashboardPages(r: Router, deps: WebDeps): void {
  r.get(
    '/reports/funnel.csv',
    page(async (req, res) => {
      const q = parseInput(csvQuery, req.query);
      const report = await funnelReport({ from: fromOf(q.period), by: q.by });
      const rows = [
        { key: 'all', stages: report.stages, conversion: report.conversion },
        ...(report.groups ?? []),
      ];
      res.setHeader('Content-Disposition', 'attachment; filename="funnel.csv"');
      res.type('text/csv; charset=utf-8').send(funnelCsv(rows));
    }),
  );
  r.get(
    '/',
    page(async (req, res) => {
      const { period } = parseInput(dashboardQuery, req.query);
      const days = periods[period];
      const report = await funnelReport({ from: fromOf(period) });
      const conv = [
        null,
        null,
        report.conversion.leadToMql,
        report.conversion.mqlToSql,
        report.conversion.sqlToOpportunity,
        report.conversion.opportunityToCustomer,
      ];
      const chart = barChart(
        lifecycleStages.map((s, i) => ({
          label: stageNames[s]!,
          value: report.stages[s],
          note: conv[i] !== null ? `${(conv[i]! * 100).toFixed(1)}% of previous` : undefined,
        })),
        { title: `Funnel, ${period === 'all' ? 'all time' : `last ${days} days`}` },
      );
      const tis = Object.entries(report.timeInStage).map(([k, v]) => ({
        key: k,
        name: stepNames[k] ?? k,
        ...v,
      }));
      await renderView(deps.config.templatesDir, res, 'dashboard', {
        title: 'Dashboard',
        nav: 'dashboard',
        principal: req.auth,
        csrf: deps.csrfToken(req, res),
        period,
        periods: Object.keys(periods).map((p) => ({
          value: p,
          label: p === 'all' ? 'All time' : `Last ${periods[p as keyof typeof periods]} days`,
          selected: p === period,
        })),
        chart,
        report,
        timeInStage: tis,
        leadToOpportunity: report.conversion.leadToOpportunity,
      });
    }),
  );
}
