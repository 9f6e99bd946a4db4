export { funnelReport, type FunnelReport } from './reports.service.js';
export { reportRoutes } from './reports.routes.js';
