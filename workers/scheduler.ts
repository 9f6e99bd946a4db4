import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { scheduleMaintenance } from '../src/modules/maintenance/index.js';

/** The one scheduler process: it only enqueues maintenance tasks on their cron table. */
export function startScheduler(rt: Runtime): void {
  scheduleMaintenance(rt);
}

if (isMain(import.meta.url)) startScheduler(await startRuntime('scheduler'));
