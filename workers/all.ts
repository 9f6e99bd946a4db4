import type { Worker } from 'bullmq';
import { isMain } from '../src/lib/is-main.js';
import { startRuntime, type Runtime } from '../src/lib/runtime.js';
import { startEmailWorker } from './email.js';
import { startLeadCapturedWorker } from './lead-captured.js';
import { startLeadSuppressedWorker } from './lead-suppressed.js';
import { startMaintenanceWorker } from './maintenance.js';
import { startNurtureWorker } from './nurture.js';
import { startQualificationSweepWorker } from './qualification-sweep.js';
import { startQualificationWorker } from './qualification.js';
import { startStageReachedWorker } from './stage-reached.js';
import { startWebhookWorker } from './webhook.js';
import { startScoringWorker } from './scoring.js';

/** Every worker kind in one process (`npm run start:workers`); run the files apart to scale one kind. */
export const workerKinds: Record<string, (rt: Runtime) => Worker> = {
  maintenance: startMaintenanceWorker,
  email: startEmailWorker,
  nurture: startNurtureWorker,
  'lead-captured': startLeadCapturedWorker,
  qualification: startQualificationWorker,
  'qualification-sweep': startQualificationSweepWorker,
  'stage-reached': startStageReachedWorker,
  'lead-suppressed': startLeadSuppressedWorker,
  webhook: startWebhookWorker,
  scoring: startScoringWorker,
};

export function startWorkers(rt: Runtime): Worker[] {
  const started = Object.entries(workerKinds).map(([, start]) => start(rt));
  rt.logger.info({ kinds: Object.keys(workerKinds) }, 'workers running');
  return started;
}

if (isMain(import.meta.url)) startWorkers(await startRuntime('workers'));
