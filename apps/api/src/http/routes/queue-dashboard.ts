import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { RequestHandler } from 'express';

/** Bull Board for `queue`, mounted at `basePath` (the admin routes guard it). */
export function queueDashboard(queue: Queue, basePath: string): RequestHandler {
  const board = new ExpressAdapter();
  board.setBasePath(basePath);
  createBullBoard({ queues: [new BullMQAdapter(queue)], serverAdapter: board });
  return board.getRouter();
}
