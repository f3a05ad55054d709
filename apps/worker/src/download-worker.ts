import { DelayedError, UnrecoverableError, type ConnectionOptions, type Job } from 'bullmq';
import { type JobEnd, type JobEndNotifier, type JobsInFlight, type Logger } from '@wamedia/server';
import {
  DOWNLOAD_QUEUE,
  MediaExpiredError,
  decodeJobFailure,
  encodeJobFailure,
  toErrorBody,
  withoutSignature,
  type DownloadJobData,
  type DownloadJobResult,
} from '@wamedia/shared';
import { asWamediaError, toAttemptError } from './job-failure.js';
import type { MediaProcessor } from './media-processor.js';
import { QueueWorker } from './queue-worker.js';
import type { ReuploadRelay, ReuploadState } from './reupload-relay.js';
import type { WorkerMetrics } from './worker-metrics.js';

type DownloadJob = Job<DownloadJobData, DownloadJobResult>;

/** Longest retry delay of a download, in ms, the CDN's Retry-After included. */
const MAX_BACKOFF_MS = 60_000;

export interface DownloadWorkerOptions {
  connection: ConnectionOptions;
  /** Redis key prefix shared with the API. */
  prefix: string;
  /** Jobs processed at once by this process. */
  concurrency: number;
  /** First retry delay in ms, doubled per attempt (Retry-After wins when longer). */
  backoffMs: number;
  /**
   * How long a job's lock lasts without renewal, in ms. A worker that dies (SIGKILL, lost
   * host) stops renewing; after about this long its jobs are given to other workers.
   */
  lockMs: number;
  /** How often a job may stall and be given to another worker before BullMQ fails it (JOB_MAX_STALLS). */
  maxStalls: number;
  logger: Logger;
  metrics: WorkerMetrics;
  /** Tells batches and callback URLs that a job ended. */
  notifier: JobEndNotifier;
  /** Each instance's jobs in flight (INSTANCE_MAX_JOBS_IN_FLIGHT): an ended job frees its slot. */
  jobsInFlight: JobsInFlight;
  /** Jobs whose media expired on the CDN wait for the phone's re-upload through it. */
  relay: ReuploadRelay;
}

/**
 * Runs MediaProcessor on the download queue: classifies failures, and once a job has ended
 * (completed, or failed for good) removes its mediaKey, frees its slot and tells its followers.
 * Only while it holds the job's lock: an attempt that lost it (cut off from Redis for longer than
 * JOB_LOCK_MS) publishes nothing, tells no one and fails nothing (see LockLostError).
 * Shutdown: see {@link QueueWorker.stop}.
 */
export class DownloadWorker extends QueueWorker<DownloadJobData, DownloadJobResult> {
  constructor(
    private readonly processor: MediaProcessor,
    private readonly options: DownloadWorkerOptions,
  ) {
    super(DOWNLOAD_QUEUE, {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      backoff: { baseMs: options.backoffMs, maxMs: MAX_BACKOFF_MS },
      lockMs: options.lockMs,
      maxStalls: options.maxStalls,
      jobsName: 'download jobs',
      logger: options.logger,
    });
    this.worker.on('failed', (job, err) =>
      options.logger.warn({ jobId: job?.id, requestId: job?.data.requestId, reason: err.message }, 'attempt failed'),
    );
  }

  protected override async process(job: DownloadJob, signal: AbortSignal | undefined, token: string | undefined): Promise<DownloadJobResult> {
    // Ended for good already: its mediaKey is gone, so another download could only fail otherwise.
    if (job.data.failure !== undefined) throw decodeJobFailure(job.data.failure);
    const round = await this.options.relay.stateOf(job);
    if (round.kind === 'waiting') return this.sleepUntil(job, token, round.until);
    const result = await this.download(job, signal, token, round);
    const { sha256, size, mimetype } = result;
    await this.jobEnded(job, token, { status: 'completed', result: { sha256, size, mimetype } });
    this.options.metrics.jobEnded(result.cached ? 'cached' : 'completed');
    return result;
  }

  /**
   * Downloads the job's media: from the re-uploaded directPath once the phone answered, else from
   * the request's references. When these all expired and the request named its message's key,
   * the job waits for a re-upload instead of failing (once: a re-uploaded media that expired too fails).
   */
  private async download(
    job: DownloadJob,
    signal: AbortSignal | undefined,
    token: string | undefined,
    round: Exclude<ReuploadState, { kind: 'waiting' }>,
  ): Promise<DownloadJobResult> {
    try {
      return await this.processor.process(job, {
        signal,
        from: round.kind === 'resumed' ? { directPath: round.directPath } : undefined,
        holdLock: () => this.holdLock(job, token),
      });
    } catch (error) {
      if (!(error instanceof MediaExpiredError) || round.kind !== 'none') throw error;
      const until = await this.options.relay.request(job, error);
      if (until === undefined) throw error;
      return this.sleepUntil(job, token, until);
    }
  }

  /**
   * Puts the job to sleep until `until` (Unix ms) without using an attempt: BullMQ wakes it then,
   * or the reupload route does sooner. Its clients go on waiting; nothing of it is released.
   */
  private async sleepUntil(job: DownloadJob, token: string | undefined, until: number): Promise<never> {
    await job.moveToDelayed(until, token);
    // An answer that came before the job was delayed found nothing to wake: wake it now.
    if (await this.options.relay.answered(job.id!)) await job.promote().catch(() => undefined);
    this.options.metrics.jobEnded('awaiting_reupload');
    throw new DelayedError();
  }

  protected override async failed(job: DownloadJob, error: unknown, token: string | undefined): Promise<Error> {
    // A recorded failure is final whatever its code: the job has nothing left to try again with.
    const attemptError = job.data.failure !== undefined ? new UnrecoverableError(job.data.failure) : toAttemptError(error);
    const last = isLastAttempt(job, attemptError);
    // A failure is the lock holder's to record: a late one of an attempt that lost the lock must
    // neither use an attempt nor end a job another worker may be completing. jobEnded checks the
    // lock first itself; a retried attempt checks it here, once either way.
    if (last) {
      const failure = asWamediaError(error);
      // Its followers are told again: a notice is idempotent, and the first may not have gone out.
      await this.jobEnded(job, token, { status: 'failed', code: failure.code, error: toErrorBody(failure) }, encodeJobFailure(failure));
    } else {
      await this.holdLock(job, token);
    }
    this.options.metrics.jobEnded(last ? 'failed' : 'retried');
    return attemptError;
  }

  protected override handedBack(): void {
    this.options.metrics.jobEnded('handed_back');
  }

  protected override lockLost(): void {
    this.options.metrics.jobEnded('lock_lost');
  }

  /**
   * Everything owed once a job has ended for good, whichever way it ended, by the holder of its
   * lock only: a late attempt must not take the mediaKey from the job another worker runs now,
   * nor tell its followers a second time. Forgetting the key and freeing the slot are
   * independent round trips, so they run at once; the followers are told last, once nothing of
   * the job is left to clean up.
   */
  private async jobEnded(job: DownloadJob, token: string | undefined, end: JobEnd, failure?: string): Promise<void> {
    await this.holdLock(job, token);
    await Promise.all([forgetSecrets(job, failure), this.releaseSlot(job)]);
    await this.options.notifier.jobEnded(job.id!, end);
  }

  /**
   * The job no longer counts against its creator's jobs in flight. A failure here does not fail
   * the job: the API drops reservations of ended jobs itself before it refuses one.
   */
  private async releaseSlot(job: DownloadJob): Promise<void> {
    await this.options.jobsInFlight.release(job.data.instanceId, job.id!).catch((err: unknown) => {
      this.options.logger.warn({ err, jobId: job.id }, 'could not release the job from its instance\'s jobs in flight');
    });
  }
}

/** Whether no attempt follows this one: the failure is final, or the attempts have run out. */
function isLastAttempt(job: DownloadJob, error: Error): boolean {
  return error.name === 'UnrecoverableError' || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/**
 * Redis keeps finished jobs for the status routes; it need not keep their keys, nor the CDN's
 * signatures (oh=, oe=) of their references. A final `failure` is recorded in the same write.
 */
async function forgetSecrets(job: DownloadJob, failure: string | undefined): Promise<void> {
  const { mediaKey: _forgotten, url, directPath, ...rest } = job.data;
  await job.updateData({
    ...rest,
    ...(failure !== undefined && { failure }),
    ...(url !== undefined && { url: withoutSignature(url) }),
    ...(directPath !== undefined && { directPath: withoutSignature(directPath) }),
  });
}
