import type { Job } from 'bullmq';

/**
 * This worker no longer holds the lock of the job it was running: it was cut off from Redis (or
 * stalled) for longer than the lock lasts, stall detection gave the job back, and another worker
 * may be running it now. Whatever this attempt produced is dropped: the job is not its to end.
 */
export class LockLostError extends Error {
  constructor(readonly jobId: string | undefined) {
    super(`lost the lock of job ${jobId ?? '(no id)'}; another worker may be running it`);
    this.name = 'LockLostError';
  }
}

/**
 * Confirms that `token` still holds the lock of `job`, and renews it for `lockMs`, in one atomic
 * step (BullMQ's extendLock: it renews only the lock its token holds, and never brings back an
 * expired one). Called before anything another worker could also do for the job: publishing its
 * result, telling its followers, recording its failure.
 *
 * While Redis is unreachable this waits for it (the worker's connection retries), so a worker
 * cut off for less than the lock goes on where it was, and one cut off for longer learns it lost.
 *
 * @param token the lock token BullMQ gave the attempt; undefined only for a job run outside a
 *   worker, which holds no lock to lose.
 * @throws LockLostError when the lock is no longer this token's.
 */
export async function holdLock(job: Pick<Job, 'id' | 'extendLock'>, token: string | undefined, lockMs: number): Promise<void> {
  if (token === undefined) return;
  if ((await job.extendLock(token, lockMs)) !== 1) throw new LockLostError(job.id);
}
