import { setTimeout as delay } from 'node:timers/promises';
import type { Worker } from 'bullmq';
import type { Logger } from '@wamedia/server';

/**
 * Stops a BullMQ worker: no new jobs, active ones may finish for up to `graceMs`; those still
 * running are then cancelled (their processors hand them back to the queue, see the callers'
 * `run`), and that gets one more `graceMs`. Past it (Redis unreachable, say) the worker is left
 * to stall detection, which gives its jobs to other workers.
 * @param what names the jobs in the log lines, e.g. "download jobs".
 */
export async function closeWorker(worker: Worker, graceMs: number, logger: Logger, what: string): Promise<void> {
  const closed = worker.close();
  if (await settlesWithin(closed, graceMs)) return;
  logger.warn(`active ${what} did not finish in time; handing them back to the queue`);
  worker.cancelAllJobs('worker shutting down');
  if (await settlesWithin(closed, graceMs)) return;
  logger.warn(`could not hand the ${what} back (is Redis reachable?); stall detection will recover them`);
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = promise.then(
    () => true,
    () => true,
  );
  return Promise.race([settled, delay(ms, false)]);
}
