export { funnelReport, type FunnelReport } from './reports.service.js';
export { reportRoutes } from './reports.routes.js';
export { funnelCsv } from './funnel.logic.js';
