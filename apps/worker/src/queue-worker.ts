import { setTimeout as delay } from 'node:timers/promises';
import { DelayedError, WaitingError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from '@wamedia/server';
import { LockLostError, holdLock } from './job-lock.js';
import { retryDelay, type Backoff } from './retry-delay.js';

/** Options of {@link QueueWorker}: how its BullMQ worker is built. */
export interface QueueWorkerOptions {
  connection: ConnectionOptions;
  /** Redis key prefix shared with the producers (REDIS_PREFIX). */
  prefix: string;
  /** Jobs processed at once by this process. */
  concurrency: number;
  /** Delays between attempts (see {@link retryDelay}); used for the queue's custom backoff type. */
  backoff: Backoff;
  /**
   * How long a job's lock lasts without renewal, in ms; also how often stalled jobs are looked
   * for. Default: BullMQ's.
   */
  lockMs?: number;
  /** How often a job may stall (lock expired) and be taken again before BullMQ fails it. Default: BullMQ's (1). */
  maxStalls?: number;
  /** Names the jobs in log lines, e.g. "download jobs". */
  jobsName: string;
  logger: Logger;
}

/**
 * What the download and webhook workers share: a BullMQ worker on one queue with the common
 * backoff, its readiness, and a shutdown that finishes active jobs or hands them back to the
 * queue, and a lock check for what only the job's holder may do ({@link holdLock}). Subclasses say
 * what a job does ({@link process}), what a failed attempt becomes ({@link failed}) and count
 * hand-backs ({@link handedBack}) and lost locks ({@link lockLost}).
 */
export abstract class QueueWorker<Data, Result> {
  protected readonly worker: Worker<Data, Result>;
  private stopping = false;

  protected constructor(queue: string, private readonly setup: QueueWorkerOptions) {
    // The worker starts connecting here but calls `run` only once connected, after the
    // subclass's constructor has set its own fields.
    this.worker = new Worker(queue, (job, token, signal) => this.run(job, token, signal), {
      connection: setup.connection,
      prefix: setup.prefix,
      concurrency: setup.concurrency,
      // Only when set: BullMQ would take an explicit undefined over its defaults.
      ...(setup.lockMs !== undefined && { lockDuration: setup.lockMs, stalledInterval: setup.lockMs }),
      ...(setup.maxStalls !== undefined && { maxStalledCount: setup.maxStalls }),
      settings: { backoffStrategy: (attemptsMade, _type, error) => retryDelay(attemptsMade, error, setup.backoff) },
    });
    this.worker.on('error', (err) => setup.logger.warn({ err, queue }, 'worker connection error'));
  }

  /** Resolves once the worker is connected and taking jobs. */
  async ready(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  /**
   * Stops taking jobs and lets active ones finish for up to `graceMs`; those still running then
   * are cancelled and handed back to the queue, where another worker picks them up. Handing back
   * needs Redis: when that has not happened within another `graceMs` (Redis unreachable), stop
   * resolves anyway and the jobs are left to the other workers' stall detection.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const { logger, jobsName } = this.setup;
    const closed = this.worker.close();
    if (await settlesWithin(closed, graceMs)) return;
    logger.warn(`active ${jobsName} did not finish in time; handing them back to the queue`);
    this.worker.cancelAllJobs('worker shutting down');
    if (await settlesWithin(closed, graceMs)) return;
    logger.warn(`could not hand the ${jobsName} back (is Redis reachable?); stall detection will recover them`);
  }

  /**
   * One attempt of `job`; `signal` aborts when {@link stop} cancels it. `token` is the job's lock,
   * for moving the job while it runs; an attempt that moved the job away throws BullMQ's DelayedError.
   */
  protected abstract process(job: Job<Data, Result>, signal: AbortSignal | undefined, token: string | undefined): Promise<Result>;

  /**
   * What BullMQ is told about an attempt that threw `error` (not a hand-back): the error to rethrow.
   * `token` is the job's lock: a failure is recorded only by the lock's holder (see {@link holdLock}).
   */
  protected abstract failed(job: Job<Data, Result>, error: unknown, token: string | undefined): Promise<Error> | Error;

  /** Called once `job` went back to the queue at shutdown; it counts as no attempt. */
  protected abstract handedBack(job: Job<Data, Result>): void;

  /** Called once an attempt of `job` was dropped because its lock was lost (see {@link LockLostError}). */
  protected lockLost(_job: Job<Data, Result>): void {}

  /**
   * Throws LockLostError unless this attempt still holds `job`'s lock (renewing it): see
   * {@link holdLock}. An attempt that throws it is dropped quietly by {@link run}.
   */
  protected holdLock(job: Job<Data, Result>, token: string | undefined): Promise<void> {
    return holdLock(job, token, this.worker.opts.lockDuration!);
  }

  private async run(job: Job<Data, Result>, token: string | undefined, signal?: AbortSignal): Promise<Result> {
    try {
      return await this.attempt(job, token, signal);
    } catch (error) {
      if (!(error instanceof LockLostError)) throw error;
      this.setup.logger.warn({ jobId: job.id }, 'job lock lost; this attempt is dropped, the job is left to its new holder');
      this.lockLost(job);
      // The job is another worker's now (or will be, once stall detection gives it back): this
      // one must neither complete nor fail it. A DelayedError is how an attempt tells BullMQ it
      // leaves the job alone.
      throw new DelayedError();
    }
  }

  private async attempt(job: Job<Data, Result>, token: string | undefined, signal?: AbortSignal): Promise<Result> {
    try {
      return await this.process(job, signal, token);
    } catch (error) {
      // Moved to delayed by the attempt itself, or no longer this worker's (see run): not a
      // failure, and no attempt used.
      if (error instanceof DelayedError || error instanceof LockLostError) throw error;
      // Cancelled by stop: the job is not failed, it waits for another worker.
      if (this.stopping && signal?.aborted) {
        await job.moveToWait(token);
        this.handedBack(job);
        throw new WaitingError();
      }
      throw await this.failed(job, error, token);
    }
  }
}

/** Whether `promise` settles within `ms`; a rejection counts (the worker reports it as an 'error' event). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = promise.then(
    () => true,
    () => true,
  );
  return Promise.race([settled, delay(ms, false)]);
}
