import type { AreaRoutes } from '../lib/app-types.js';
import { crmRoutes } from './crm/index.js';
import { importRoutes } from './imports/index.js';

/** Every domain area's routes, mounted by buildApp() in this order. */
export const areas: AreaRoutes[] = [crmRoutes, importRoutes];
