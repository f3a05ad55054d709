import type { Queue, QueueEvents } from 'bullmq';
import { JobFailedError, decodeJobFailure, type DownloadJobData, type DownloadJobResult } from '@wamedia/shared';

/** How a job ended. */
export type JobOutcome =
  | { state: 'completed'; result: DownloadJobResult }
  | { state: 'failed'; error: JobFailedError };

/** Ends one wait; undefined means it ended without an outcome (timeout, abort, shutdown). */
type Settle = (outcome: JobOutcome | undefined) => void;

export interface JobWaiterOptions {
  /** How often every awaited job's state is re-read, in ms, in case an event was missed. */
  sweepIntervalMs?: number;
}

/**
 * Lets many requests wait for jobs through ONE QueueEvents per process: a map of waiters is
 * settled by the queue's events. Events can be missed (a reconnect, a job that finished
 * before the waiter registered), so each wait re-reads the job's state right after
 * registering, and a periodic sweep re-reads every awaited job.
 */
export class JobWaiter {
  private readonly waiters = new Map<string, Set<Settle>>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly queue: Queue<DownloadJobData, DownloadJobResult>,
    events: QueueEvents,
    options: JobWaiterOptions = {},
  ) {
    events.on('completed', ({ jobId, returnvalue }) =>
      this.settle(jobId, { state: 'completed', result: returnvalue as unknown as DownloadJobResult }),
    );
    events.on('failed', ({ jobId, failedReason }) =>
      this.settle(jobId, { state: 'failed', error: decodeJobFailure(failedReason) }),
    );
    this.sweepTimer = setInterval(() => void this.sweep(), options.sweepIntervalMs ?? 1_000);
    this.sweepTimer.unref();
  }

  /** Number of requests waiting right now. */
  get size(): number {
    let count = 0;
    for (const set of this.waiters.values()) count += set.size;
    return count;
  }

  /**
   * Resolves with the job's outcome, or with undefined when `timeoutMs` elapses or `signal`
   * aborts first (the job goes on either way).
   */
  wait(jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<JobOutcome | undefined> {
    if (timeoutMs <= 0 || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const settle: Settle = (outcome) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.unregister(jobId, settle);
        resolve(outcome);
      };
      const onAbort = () => settle(undefined);
      const timer = setTimeout(onAbort, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.register(jobId, settle);
      void this.recheck(jobId);
    });
  }

  /** Reads a job's outcome once; undefined while it is still running. */
  async outcomeOf(jobId: string): Promise<JobOutcome | undefined> {
    // The state first, then the job: a job read before its state may predate the job's end, and
    // then says "completed" with no return value yet (and the request fails with a 500).
    const state = await this.queue.getJobState(jobId);
    if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return undefined;
    const job = await this.queue.getJob(jobId);
    if (!job) return { state: 'failed', error: new JobFailedError('JOB_NOT_FOUND', `job ${jobId} not found`) };
    // Replaced by a new attempt between the two reads: that one is still running.
    if (state === 'completed') return job.returnvalue ? { state, result: job.returnvalue } : undefined;
    if (state === 'failed') return job.finishedOn ? { state, error: decodeJobFailure(job.failedReason) } : undefined;
    return undefined;
  }

  /** Stops the sweep and releases every waiter as timed out. */
  close(): void {
    clearInterval(this.sweepTimer);
    for (const set of [...this.waiters.values()]) for (const settle of [...set]) settle(undefined);
  }

  private register(jobId: string, settle: Settle): void {
    const set = this.waiters.get(jobId) ?? new Set<Settle>();
    set.add(settle);
    this.waiters.set(jobId, set);
  }

  private unregister(jobId: string, settle: Settle): void {
    const set = this.waiters.get(jobId);
    set?.delete(settle);
    if (set?.size === 0) this.waiters.delete(jobId);
  }

  private settle(jobId: string, outcome: JobOutcome): void {
    const set = this.waiters.get(jobId);
    if (!set) return;
    for (const settle of [...set]) settle(outcome);
  }

  private async recheck(jobId: string): Promise<void> {
    try {
      const outcome = await this.outcomeOf(jobId);
      if (outcome) this.settle(jobId, outcome);
    } catch {
      // Redis is unreachable right now; the sweep tries again.
    }
  }

  private async sweep(): Promise<void> {
    await Promise.all([...this.waiters.keys()].map((jobId) => this.recheck(jobId)));
  }
}
