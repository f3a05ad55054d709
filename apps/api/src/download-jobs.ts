import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  DOWNLOAD_BACKOFF,
  DOWNLOAD_JOB,
  DOWNLOAD_QUEUE,
  QueueUnavailableError,
  downloadJobId,
  type DownloadJobData,
  type DownloadJobResult,
} from '@wamedia/shared';

export type DownloadJob = Job<DownloadJobData, DownloadJobResult>;

export interface DownloadJobsOptions {
  /** Attempts per job, the first included. */
  attempts: number;
  /** How long finished jobs (and who may see them) are kept, in seconds. */
  retentionSeconds: number;
  /** A failed job older than this (ms) is replaced by a new attempt instead of being reused. */
  failedJobReuseMs: number;
  /** Redis key prefix. */
  prefix: string;
}

/**
 * The API's side of the download queue: adds deduplicated jobs, records which instances may
 * see each job, and reads jobs back. Decides nothing about HTTP.
 */
export class DownloadJobs {
  constructor(
    private readonly queue: Queue<DownloadJobData, DownloadJobResult>,
    private readonly redis: Redis,
    private readonly options: DownloadJobsOptions,
  ) {}

  /**
   * Adds the job of a media, or joins the one already there: identical requests share one
   * job id, and BullMQ ignores an add whose id exists. A failed job is reused for a short
   * while (so a burst of retries doesn't hammer the CDN), then replaced by a fresh attempt.
   * `replaceCompleted` starts over a completed job whose result is gone from the store.
   */
  async enqueue(
    data: DownloadJobData,
    instanceId: string,
    { replaceCompleted = false } = {},
  ): Promise<DownloadJob> {
    const jobId = downloadJobId(data.lookupKey);
    await this.grantAccess(jobId, instanceId);
    const existing = await this.guard(() => this.queue.getJob(jobId));
    if (existing && (await this.isSpent(existing, data, replaceCompleted))) {
      await this.guard(() => existing.remove()).catch(() => undefined);
    } else if (existing) {
      return existing;
    }
    return this.guard(() =>
      this.queue.add(DOWNLOAD_JOB, data, {
        jobId,
        attempts: this.options.attempts,
        backoff: { type: DOWNLOAD_BACKOFF },
        removeOnComplete: { age: this.options.retentionSeconds },
        removeOnFail: { age: this.options.retentionSeconds },
      }),
    );
  }

  /** The job, when it exists and `instanceId` asked for it; undefined otherwise. */
  async find(jobId: string, instanceId: string): Promise<DownloadJob | undefined> {
    const allowed = await this.guard(() => this.redis.sismember(this.ownersKey(jobId), instanceId));
    if (!allowed) return undefined;
    return this.guard(() => this.queue.getJob(jobId));
  }

  private async isSpent(job: DownloadJob, data: DownloadJobData, replaceCompleted: boolean): Promise<boolean> {
    const state = await job.getState();
    if (state === 'completed') return replaceCompleted;
    if (state !== 'failed') return false;
    // Only an identical request reuses a failure: a new reference (the phone re-uploaded the media
    // after a 404: same mediaKey, new directPath) or other hashes deserve their own attempt.
    return Date.now() - (job.finishedOn ?? 0) > this.options.failedJobReuseMs || !sameReference(job.data, data);
  }

  private async grantAccess(jobId: string, instanceId: string): Promise<void> {
    const key = this.ownersKey(jobId);
    await this.guard(() =>
      this.redis.multi().sadd(key, instanceId).expire(key, this.options.retentionSeconds).exec(),
    );
  }

  private ownersKey(jobId: string): string {
    return `${this.options.prefix}:job-owners:${jobId}`;
  }

  /** Redis failures become QueueUnavailableError (503), keeping the cause. */
  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw new QueueUnavailableError('the job queue (Redis) is unavailable', { cause: error });
    }
  }
}

/** Whether two jobs of one media fetch and verify the same way. */
function sameReference(a: DownloadJobData, b: DownloadJobData): boolean {
  return (
    a.url === b.url &&
    a.directPath === b.directPath &&
    a.fileSha256 === b.fileSha256 &&
    a.fileEncSha256 === b.fileEncSha256 &&
    a.fileLength === b.fileLength
  );
}
