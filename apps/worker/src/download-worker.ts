import { WaitingError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { type JobEndNotifier, type JobsInFlight, type Logger } from '@wamedia/server';
import { DOWNLOAD_QUEUE, toErrorBody, type DownloadJobData, type DownloadJobResult } from '@wamedia/shared';
import { closeWorker } from './close-worker.js';
import { asWamediaError, toAttemptError } from './job-failure.js';
import type { MediaProcessor } from './media-processor.js';
import { retryDelay } from './retry-delay.js';
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
  logger: Logger;
  metrics: WorkerMetrics;
  /** Tells batches and callback URLs that a job ended. */
  notifier: JobEndNotifier;
  /** Each instance's jobs in flight (INSTANCE_MAX_JOBS_IN_FLIGHT): an ended job frees its slot. */
  jobsInFlight: JobsInFlight;
}

/**
 * Runs MediaProcessor on the download queue: classifies failures, removes the mediaKey from
 * a job once it has ended, and on stop finishes active jobs or hands them back to the queue.
 */
export class DownloadWorker {
  private readonly worker: Worker<DownloadJobData, DownloadJobResult>;
  private stopping = false;

  constructor(
    private readonly processor: MediaProcessor,
    private readonly options: DownloadWorkerOptions,
  ) {
    this.worker = new Worker(DOWNLOAD_QUEUE, (job, token, signal) => this.run(job, token, signal), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockMs,
      stalledInterval: options.lockMs,
      settings: { backoffStrategy: (attemptsMade, _type, error) => retryDelay(attemptsMade, error, { baseMs: options.backoffMs, maxMs: MAX_BACKOFF_MS }) },
    });
    this.worker.on('error', (err) => options.logger.warn({ err }, 'worker connection error'));
    this.worker.on('failed', (job, err) =>
      options.logger.warn({ jobId: job?.id, requestId: job?.data.requestId, reason: err.message }, 'attempt failed'),
    );
  }

  /** Resolves once the worker is connected and taking jobs. */
  async ready(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  /**
   * Stops taking jobs and lets active ones finish for up to `graceMs`; jobs still running then
   * are cancelled and moved back to the queue, where another worker picks them up. Handing back
   * needs Redis: when that has not happened within another `graceMs` (Redis unreachable), stop
   * resolves anyway and the jobs are left to the other workers' stall detection.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await closeWorker(this.worker, graceMs, this.options.logger, 'download jobs');
  }

  private async run(job: DownloadJob, token: string | undefined, signal?: AbortSignal): Promise<DownloadJobResult> {
    try {
      const result = await this.processor.process(job, signal);
      await forgetMediaKey(job);
      await this.releaseSlot(job);
      const { sha256, size, mimetype } = result;
      await this.options.notifier.jobEnded(job.id!, { status: 'completed', result: { sha256, size, mimetype } });
      this.options.metrics.jobEnded(result.cached ? 'cached' : 'completed');
      return result;
    } catch (error) {
      if (this.stopping && signal?.aborted) {
        await job.moveToWait(token);
        this.options.metrics.jobEnded('handed_back');
        throw new WaitingError();
      }
      const attemptError = toAttemptError(error);
      const last = isLastAttempt(job, attemptError);
      if (last) {
        await forgetMediaKey(job);
        await this.releaseSlot(job);
        const failure = asWamediaError(error);
        await this.options.notifier.jobEnded(job.id!, { status: 'failed', code: failure.code, error: toErrorBody(failure) });
      }
      this.options.metrics.jobEnded(last ? 'failed' : 'retried');
      throw attemptError;
    }
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

/** Whether `promise` settles within `ms`; a rejection counts (the worker reports it as an 'error' event). */
function isLastAttempt(job: DownloadJob, error: Error): boolean {
  return error.name === 'UnrecoverableError' || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/** Redis keeps finished jobs for the status routes; it need not keep their keys. */
async function forgetMediaKey(job: DownloadJob): Promise<void> {
  const { mediaKey: _forgotten, ...rest } = job.data;
  await job.updateData(rest);
}
