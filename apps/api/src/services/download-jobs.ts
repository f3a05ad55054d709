import { Queue, type Job, type JobState } from 'bullmq';
import { type JobPool, type RedisClient, type JobSubscriptions, type JobsInFlight, type ReuploadStore } from '@wamedia/server';
import {
  BATCH_PRIORITY,
  DOWNLOAD_BACKOFF,
  DOWNLOAD_JOB,
  RateLimitedError,
  downloadJobId,
  withoutSignature,
  type DownloadJobData,
  type DownloadJobResult,
} from '@wamedia/shared';

export type DownloadJob = Job<DownloadJobData, DownloadJobResult>;

/**
 * Retry-After of a refusal for jobs in flight, in seconds: a slot frees when one of the
 * instance's jobs ends, which nothing predicts; a short wait keeps a well-behaved client close.
 */
const IN_FLIGHT_RETRY_AFTER_SECONDS = 2;

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
    private readonly redis: RedisClient,
    private readonly subscriptions: JobSubscriptions,
    private readonly options: DownloadJobsOptions,
    /** INSTANCE_MAX_JOBS_IN_FLIGHT: new jobs are reserved here before they are added. */
    private readonly inFlight: JobsInFlight,
    /** Re-upload rounds: a job that replaces another does not inherit its round. */
    private readonly reuploads: ReuploadStore,
  ) {}

  /**
   * Adds the job of a media, or joins the one already there: identical requests share one
   * job id, and BullMQ ignores an add whose id exists. A failed job is reused for a short
   * while (so a burst of retries doesn't hammer the CDN), then replaced by a fresh attempt.
   * `replaceCompleted` starts over a completed job whose result is gone from the store.
   * A waiting client joining a batch's low-priority job lifts it to the front of the queue.
   * Only a new job counts against the instance's jobs in flight (RateLimitedError when full);
   * joining one does not.
   */
  async enqueue(
    data: DownloadJobData,
    instanceId: string,
    { replaceCompleted = false } = {},
  ): Promise<DownloadJob> {
    const jobId = downloadJobId(data.lookupKey);
    await this.grantAccess([jobId], instanceId);
    const existing = await this.existingJob(jobId);
    if (existing) {
      const { job, state } = existing;
      if (!(await this.replaceIfSpent(job, state, data, replaceCompleted))) {
        if (state === 'prioritized') await job.changePriority({ priority: 0 });
        return job;
      }
    }
    await this.reserve(instanceId, 'single', [jobId]);
    return this.queue.add(DOWNLOAD_JOB, data, this.jobOptions(jobId));
  }

  /**
   * Adds the jobs of a batch in bulk, at BATCH_PRIORITY so that waiting clients go first;
   * media that already have a live job share it. Resolves with each media's job id.
   * The batch's new jobs count in the instance's batch pool of jobs in flight: the whole batch is
   * refused (RateLimitedError) while that pool is full, and accepted whole otherwise.
   */
  async enqueueBatch(items: DownloadJobData[], instanceId: string): Promise<string[]> {
    const jobIds = items.map((data) => downloadJobId(data.lookupKey));
    const unique = new Map(items.map((data, i) => [jobIds[i]!, data]));
    await this.grantAccess([...unique.keys()], instanceId);
    const fresh: DownloadJobData[] = [];
    await Promise.all(
      [...unique].map(async ([jobId, data]) => {
        const existing = await this.existingJob(jobId);
        if (!existing || (await this.replaceIfSpent(existing.job, existing.state, data, false))) fresh.push(data);
      }),
    );
    await this.reserve(instanceId, 'batch', fresh.map((data) => downloadJobId(data.lookupKey)));
    await this.queue.addBulk(
      fresh.map((data) => ({
        name: DOWNLOAD_JOB,
        data,
        opts: { ...this.jobOptions(downloadJobId(data.lookupKey)), priority: BATCH_PRIORITY },
      })),
    );
    return jobIds;
  }

  /** The job, when it exists and `instanceId` asked for it; undefined otherwise. */
  async find(jobId: string, instanceId: string): Promise<DownloadJob | undefined> {
    const allowed = await this.redis.sismember(this.ownersKey(jobId), instanceId);
    if (!allowed) return undefined;
    return this.queue.getJob(jobId);
  }

  /**
   * The job of `jobId` with its state, read in that order: a job read before its state may predate
   * its end, and a failure without its finishedOn looks as old as can be, so a request joining a job
   * the moment it failed would replace it (a new CDN download) instead of sharing its failure.
   */
  private async existingJob(jobId: string): Promise<{ job: DownloadJob; state: JobState | 'unknown' } | undefined> {
    const state = await this.queue.getJobState(jobId);
    if (state === 'unknown') return undefined;
    const job = await this.queue.getJob(jobId);
    return job && { job, state };
  }

  private jobOptions(jobId: string) {
    return {
      jobId,
      attempts: this.options.attempts,
      backoff: { type: DOWNLOAD_BACKOFF },
      removeOnComplete: { age: this.options.retentionSeconds },
      removeOnFail: { age: this.options.retentionSeconds },
    };
  }

  /** Takes slots for new jobs of `instanceId`, or refuses with 429. */
  private async reserve(instanceId: string, pool: JobPool, jobIds: string[]): Promise<void> {
    const { admitted, inFlight } = await this.inFlight.reserve(instanceId, pool, jobIds);
    if (admitted) return;
    const what = pool === 'batch' ? 'batch jobs' : 'jobs';
    throw new RateLimitedError(
      `too many jobs in flight: instance ${instanceId} has ${inFlight} ${what} not yet ended, the limit is ${this.inFlight.limit} ` +
        `(INSTANCE_MAX_JOBS_IN_FLIGHT); media already stored or already being downloaded are still answered`,
      IN_FLIGHT_RETRY_AFTER_SECONDS,
    );
  }

  /** Removes a job that may not be reused (see isSpent); true when it was removed. */
  private async replaceIfSpent(
    job: DownloadJob,
    state: JobState | 'unknown',
    data: DownloadJobData,
    replaceCompleted: boolean,
  ): Promise<boolean> {
    if (!this.isSpent(job, state, data, replaceCompleted)) return false;
    await job.remove().catch(() => undefined);
    // Its end must not be reported to the followers of the job that replaces it, nor its re-upload
    // round taken for that job's.
    await Promise.all([this.subscriptions.jobRestarted(job.id!), this.reuploads.forget(job.id!)]);
    return true;
  }

  private isSpent(job: DownloadJob, state: JobState | 'unknown', data: DownloadJobData, replaceCompleted: boolean): boolean {
    if (state === 'completed') return replaceCompleted;
    if (state !== 'failed') return false;
    // Only an identical request reuses a failure: a new reference (the phone re-uploaded the media
    // after a 404: same mediaKey, new directPath), other hashes, or a message key (which lets the
    // job wait for a re-upload) deserve their own attempt.
    return Date.now() - (job.finishedOn ?? 0) > this.options.failedJobReuseMs || !sameReference(job.data, data);
  }

  private async grantAccess(jobIds: string[], instanceId: string): Promise<void> {
    const multi = this.redis.multi();
    for (const jobId of jobIds) {
      multi.sadd(this.ownersKey(jobId), instanceId).expire(this.ownersKey(jobId), this.options.retentionSeconds);
    }
    await multi.exec();
  }

  private ownersKey(jobId: string): string {
    return `${this.options.prefix}:job-owners:${jobId}`;
  }
}

/**
 * Whether two jobs of one media fetch and verify the same way. References are compared without
 * their signatures: an ended job keeps none (see the download worker), and a new signature of
 * the same path names the same file.
 */
function sameReference(a: DownloadJobData, b: DownloadJobData): boolean {
  const unsigned = (reference: string | undefined) => (reference === undefined ? undefined : withoutSignature(reference));
  return (
    unsigned(a.url) === unsigned(b.url) &&
    unsigned(a.directPath) === unsigned(b.directPath) &&
    a.fileSha256 === b.fileSha256 &&
    a.fileEncSha256 === b.fileEncSha256 &&
    a.fileLength === b.fileLength &&
    a.messageKey?.id === b.messageKey?.id
  );
}
