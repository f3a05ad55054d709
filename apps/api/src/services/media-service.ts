import {
  type BlobStore,
  type HostAllowList,
  type JobSecrets,
  type MediaIndex,
} from '@wamedia/server';
import {
  JobNotFoundError,
  decodeJobFailure,
  defaultMimetype,
  parseDownloadJobId,
  referenceLookupKey,
  type ContentType,
  type DownloadJobData,
  type DownloadRequest,
  type JobState,
  type JobStatus,
  type ReuploadRequested,
} from '@wamedia/shared';
import type { Callbacks } from './callbacks.js';
import type { DownloadJob, DownloadJobs } from './download-jobs.js';
import type { JobWaiter, JobOutcome } from './job-waiter.js';
import { readyMedia, type ReadyMedia } from './ready-media.js';
import { checkHints, failedOnOthersHints, fromCache } from './request-hints.js';
import type { ReuploadService } from './reupload-service.js';

/** What a download request (or a job's content request) comes to. */
export type DownloadOutcome =
  | { kind: 'ready'; media: ReadyMedia }
  | { kind: 'pending'; jobId: string; status: string };

export interface WaitOptions {
  /** How long to wait for the job, in ms; 0 answers at once. */
  timeoutMs: number;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
  /** The HTTP request id, passed to the worker for its logs. */
  requestId?: string;
}

/**
 * The API's domain logic: cache lookup, enqueueing, waiting, and reading jobs back.
 * Throws wamedia errors only; the routes turn results and errors into HTTP.
 */
export class MediaService {
  constructor(
    private readonly deps: {
      jobs: DownloadJobs;
      waiter: JobWaiter;
      store: BlobStore;
      index: MediaIndex;
      allowList: HostAllowList;
      callbacks: Callbacks;
      metrics: { cacheLookup(hit: boolean): void };
      /** Seals the mediaKey of the job data (JOB_DATA_KEY). */
      secrets: JobSecrets;
      /** Says which jobs wait for the phone to re-upload their media. */
      reuploads: ReuploadService;
    },
  ) {}

  /** Serves a media from the cache, or downloads it through a job and waits up to the timeout. */
  async download(instanceId: string, request: DownloadRequest, options: WaitOptions): Promise<DownloadOutcome> {
    const { content, contentType, callbackUrl } = request;
    if (content.url) this.deps.allowList.assertAllowed(new URL(content.url));
    if (callbackUrl) this.deps.callbacks.check(callbackUrl);
    const lookupKey = referenceLookupKey(content, contentType);
    const cached = await this.deps.index.get(lookupKey);
    this.deps.metrics.cacheLookup(cached !== undefined);
    if (cached) return { kind: 'ready', media: readyMedia(this.deps.store, fromCache(cached, request)) };

    const data = toJobData(request, lookupKey, instanceId, options.requestId, this.deps.secrets);
    const enqueue = async () => {
      const started = await this.deps.jobs.enqueue(data, instanceId);
      // Told of a re-upload request from the start: a client that waits for the file needs it then.
      if (callbackUrl && content.messageKey) await this.deps.callbacks.followReuploads(started.id!, callbackUrl, instanceId);
      return started;
    };
    const deadline = Date.now() + options.timeoutMs;
    let job = await enqueue();
    let outcome = await this.deps.waiter.wait(job.id!, options.timeoutMs, options.signal);
    if (outcome && failedOnOthersHints(outcome, job.data, data)) {
      // The job this request joined was failed by its starter's hashes, which are not this
      // request's: the media itself may be fine. A fresh attempt, with this request's own hints.
      job = await enqueue();
      outcome = await this.deps.waiter.wait(job.id!, Math.max(0, deadline - Date.now()), options.signal);
    }
    if (!outcome) {
      if (callbackUrl) await this.deps.callbacks.followJob(job.id!, callbackUrl, instanceId);
      return { kind: 'pending', jobId: job.id!, status: (await this.stateOf(job)).status };
    }
    // A joined job was verified against its starter's hints: this request's own are checked
    // here, as on a cache hit, and fail this request only.
    if (outcome.state === 'completed') checkHints(request, outcome.result);
    const media = await this.present(outcome, contentType, content.mimetype);
    if (media) return { kind: 'ready', media };
    // Completed, but the store lost the bytes: start over once.
    const retry = await this.deps.jobs.enqueue(data, instanceId, { replaceCompleted: true });
    return { kind: 'pending', jobId: retry.id!, status: await retry.getState() };
  }

  /** The status of one of this instance's jobs. */
  async jobStatus(instanceId: string, jobId: string): Promise<JobStatus> {
    let job = await this.findJob(instanceId, jobId);
    const state = await job.getState();
    // The job may have ended between the two reads: read it again so its result matches the state.
    if ((state === 'completed' || state === 'failed') && !job.finishedOn) job = await this.findJob(instanceId, jobId);
    return { ...describeJob(job, state), ...(await this.stateOf(job, state)) };
  }

  /** The content of one of this instance's jobs: ready, still pending, or the job's failure thrown. */
  async jobContent(instanceId: string, jobId: string): Promise<DownloadOutcome> {
    const job = await this.findJob(instanceId, jobId);
    const outcome = await this.deps.waiter.outcomeOf(jobId);
    if (!outcome) return { kind: 'pending', jobId, status: (await this.stateOf(job)).status };
    // The mimetype the job's starter asked for is that request's own: another instance following
    // the job gets the type's default.
    const mimetype = job.data.instanceId === instanceId ? job.data.mimetype : undefined;
    const media = await this.present(outcome, job.data.contentType, mimetype);
    if (!media) throw new JobNotFoundError(jobId);
    return { kind: 'ready', media };
  }

  /**
   * A job's state as clients see it: `awaiting_reupload`, with what the caller's session needs to ask
   * for it, while the job waits for the phone (BullMQ has it delayed, or is putting it to sleep).
   */
  private async stateOf(job: DownloadJob, known?: JobState): Promise<{ status: JobState; reupload?: ReuploadRequested }> {
    const status = known ?? (await job.getState());
    if (status === 'completed' || status === 'failed' || status === 'unknown') return { status };
    const reupload = await this.deps.reuploads.requestOf(job.id!);
    return reupload ? { status: 'awaiting_reupload', reupload } : { status };
  }

  private async findJob(instanceId: string, jobId: string): Promise<DownloadJob> {
    const job = parseDownloadJobId(jobId) ? await this.deps.jobs.find(jobId, instanceId) : undefined;
    if (!job) throw new JobNotFoundError(jobId);
    return job;
  }

  /** A finished job as servable media; undefined when its bytes are no longer stored. */
  private async present(
    outcome: JobOutcome,
    contentType: ContentType,
    mimetype: string | undefined,
  ): Promise<ReadyMedia | undefined> {
    if (outcome.state === 'failed') throw outcome.error;
    const { sha256, size } = outcome.result;
    if (!(await this.deps.store.stat(sha256))) return undefined;
    // This request's mimetype, else the type's default: never the one the job's starter asked for.
    return readyMedia(this.deps.store, { sha256, size, contentType, mimetype: mimetype ?? defaultMimetype(contentType) });
  }
}

/**
 * The job payload of a request: bytes as base64, the cache key, who asked. The mediaKey is
 * sealed (AES-256-GCM under JOB_DATA_KEY, bound to the cache key): Redis never holds it in clear.
 * A reference without one (channel media) is marked `plain`: downloaded as it is, checked by its fileSha256.
 */
export function toJobData(
  { contentType, content }: DownloadRequest,
  lookupKey: string,
  instanceId: string,
  requestId: string | undefined,
  secrets: JobSecrets,
): DownloadJobData {
  return {
    contentType,
    url: content.url,
    directPath: content.directPath,
    ...(content.mediaKey ? { mediaKey: secrets.seal(content.mediaKey, lookupKey) } : { plain: true }),
    mimetype: content.mimetype ?? defaultMimetype(contentType),
    fileSha256: content.fileSha256?.toString('base64'),
    fileEncSha256: content.fileEncSha256?.toString('base64'),
    fileLength: content.fileLength,
    messageKey: content.messageKey,
    lookupKey,
    instanceId,
    requestId,
  };
}

function describeJob(job: DownloadJob, status: JobState): JobStatus {
  const described: JobStatus = {
    jobId: job.id!,
    status,
    attemptsMade: job.attemptsMade,
    createdAt: new Date(job.timestamp).toISOString(),
  };
  if (job.finishedOn) described.finishedAt = new Date(job.finishedOn).toISOString();
  if (status === 'completed' && job.returnvalue) {
    const { sha256, size, mimetype } = job.returnvalue;
    described.result = { sha256, size, mimetype };
  }
  if (status === 'failed') {
    const error = decodeJobFailure(job.failedReason);
    described.error = { statusCode: error.status, message: error.message };
  }
  return described;
}
