import type { AreaRoutes } from '../lib/app-types.js';
import { emailRoutes } from './email/email.routes.js';
import { sequenceRoutes } from './sequences/index.js';

/** Every domain area's routes, mounted by buildApp() in this order. */
export const areas: AreaRoutes[] = [emailRoutes, sequenceRoutes];
