import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Router } from 'express';
import { getQueue, QueueName } from '../../queues/index.js';

/** Bull Board, the queue dashboard for operators, at `basePath` (admin only; mounted by the app). */
export function queuesBoard(basePath: string): Router {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(basePath);
  createBullBoard({
    queues: Object.values(QueueName).map(
      (name) => new BullMQAdapter(getQueue(name), { readOnlyMode: false }),
    ),
    serverAdapter: adapter,
  });
  return adapter.getRouter() as Router;
}
