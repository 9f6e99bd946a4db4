import { z } from 'zod';

const dateOnly = /^\d{4}-\d{2}-\d{2}$/;

/** A period bound: an ISO date (`2026-11-01`, a whole UTC day) or an ISO date-time. */
const bound = (end: boolean) =>
  z
    .string()
    .max(40)
    .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 date or date-time')
    .transform((s) => {
      const d = new Date(s);
      // `to=2026-11-30` includes all of that day
      if (end && dateOnly.test(s)) d.setUTCDate(d.getUTCDate() + 1);
      return d;
    });

export const reportGroupings = ['source', 'sequence', 'campaign'] as const;
export type ReportGrouping = (typeof reportGroupings)[number];

/** `GET /api/reports/funnel` query: every unknown parameter is refused by name. */
export const funnelQuery = z
  .strictObject({
    from: bound(false).optional(),
    to: bound(true).optional(),
    by: z.enum(reportGroupings).optional(),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .refine((q) => !q.from || !q.to || q.from < q.to, { message: 'from must be before to', path: ['from'] });
export type FunnelQuery = z.infer<typeof funnelQuery>;
