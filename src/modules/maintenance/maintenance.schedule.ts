import cron from 'node-cron';
import type { Runtime } from '../../lib/runtime.js';
import { onShutdown } from '../../lib/shutdown.js';
import { enqueue, type Payload } from '../../queues/index.js';

type Task = Payload<'maintenance'>['task'];

/** When each maintenance task runs (cron expressions, UTC). */
export const schedule: Record<Task, string> = {
  heartbeat: '* * * * *',
  reconcile: '* * * * *',
  decay: '17 * * * *',
  sla: '*/5 * * * *',
  cleanup: '41 * * * *',
};

/**
 * Starts the cron table. The scheduler only enqueues; the jobId names the task and its minute, so a
 * second scheduler started by mistake adds nothing.
 */
export function scheduleMaintenance(rt: Pick<Runtime, 'logger'>): void {
  const tasks = Object.entries(schedule).map(([task, expr]) =>
    cron.schedule(
      expr,
      async () => {
        const minute = Math.floor(Date.now() / 60_000);
        try {
          await enqueue('maintenance', { task: task as Task }, { jobId: `${task}-${minute}` });
        } catch (err) {
          rt.logger.warn({ err, task }, 'could not enqueue maintenance task');
        }
      },
      { timezone: 'UTC', name: task },
    ),
  );
  onShutdown('scheduler', async () => {
    for (const t of tasks) await t.stop();
  });
  rt.logger.info({ tasks: Object.keys(schedule) }, 'scheduler running');
}
