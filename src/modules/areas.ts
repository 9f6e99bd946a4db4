import type { AreaRoutes } from '../lib/app-types.js';
import { crmRoutes } from './crm/index.js';
import { eventRoutes } from './events/index.js';
import { emailRoutes } from './email/index.js';
import { trackingRoutes } from './events/index.js';
import { formRoutes } from './forms/index.js';
import { importRoutes } from './imports/index.js';
import { leadRoutes } from './leads/index.js';
import { qualificationRoutes } from './qualification/index.js';
import { reportRoutes } from './reports/index.js';
import { scoringRoutes } from './scoring/index.js';
import { sequenceRoutes } from './sequences/index.js';
import { webhookRoutes } from './webhooks/index.js';

/** Every domain area's routes, mounted by buildApp() in this order. */
export const areas: AreaRoutes[] = [
  formRoutes,
  leadRoutes,
  crmRoutes,
  importRoutes,
  emailRoutes,
  trackingRoutes,
  sequenceRoutes,
  qualificationRoutes,
  webhookRoutes,
  reportRoutes,
  eventRoutes,
  scoringRoutes,
];
