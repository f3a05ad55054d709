import { z } from 'zod';
import { webhookEventSchema } from './batch-schemas.js';
import { JobFailedError, WamediaError, errorCatalogue, type ErrorCode } from './errors.js';
import { contentTypeSchema, messageKeySchema } from './schemas.js';

/**
 * The job contract between the API (producer) and the workers (consumers): queue and job names,
 * job ids, payload and result schemas, and how a failure crosses the queue. No queue library is
 * imported here: both sides hand these values to BullMQ themselves.
 */

// ---- Download jobs -----------------------------------------------------------------------

export const DOWNLOAD_QUEUE = 'media-download';
export const DOWNLOAD_JOB = 'download';
/** The backoff type of download jobs; the worker implements it (exponential, Retry-After aware). */
export const DOWNLOAD_BACKOFF = 'download-backoff';

/** BullMQ priority of batch downloads: any job without a priority (a waiting client's) goes first. */
export const BATCH_PRIORITY = 100;

/**
 * The payload of a download job. Bytes travel as base64; the mediaKey is sealed by the API
 * (Redis never holds it in clear) and removed from the job once the job has ended.
 */
export const downloadJobSchema = z.object({
  contentType: contentTypeSchema,
  url: z.string().optional(),
  directPath: z.string().optional(),
  /** Sealed (`v1.<key id>.<data>`, see JobSecrets), bound to lookupKey; absent once the job has ended. */
  mediaKey: z.string().optional(),
  /**
   * Media that is not encrypted (channel media): no mediaKey, downloaded as it is and checked by
   * fileSha256, which it then always has; its lookupKey is plainMediaLookupKey(fileSha256).
   */
  plain: z.literal(true).optional(),
  /** The Content-Type to serve: the request's, else the default of its contentType (decided by the API). */
  mimetype: z.string(),
  fileSha256: z.string().optional(),
  fileEncSha256: z.string().optional(),
  fileLength: z.number().optional(),
  /** The message that carried the media (the request's content.messageKey), for a media retry request. */
  messageKey: messageKeySchema.optional(),
  /** The cache key (see mediaLookupKey). */
  lookupKey: z.string(),
  /** The instance that first asked; others may share the job. */
  instanceId: z.string(),
  /** The API request id, so worker log lines can be matched to it. */
  requestId: z.string().optional(),
  /**
   * How the job failed for good (as encodeJobFailure writes it), recorded when it ended. A job
   * that ended and still runs again (its worker died before the queue heard of the end, or it was
   * re-queued) answers this rather than downloading again without its mediaKey.
   */
  failure: z.string().optional(),
});
export type DownloadJobData = z.infer<typeof downloadJobSchema>;

/** What a stored media is: its address, size and the Content-Type it is served with. */
export const storedMediaSchema = z.object({ sha256: z.string(), size: z.number().int(), mimetype: z.string() });
export type StoredMedia = z.infer<typeof storedMediaSchema>;

/** What a completed download job returns. */
export interface DownloadJobResult extends StoredMedia {
  /** True when the media was already stored and no CDN request was made. */
  cached: boolean;
}

const DOWNLOAD_JOB_ID = /^dl-([0-9a-f]{64})$/;

/**
 * The job id of a media: a function of its cache key, so identical requests made at once share
 * one job and one CDN download (BullMQ ignores an add whose id already exists).
 */
export function downloadJobId(lookupKey: string): string {
  return `dl-${lookupKey}`;
}

/** The cache key inside a download job id, or undefined when `jobId` is not one (an unknown job). */
export function parseDownloadJobId(jobId: string): string | undefined {
  return DOWNLOAD_JOB_ID.exec(jobId)?.[1];
}

// ---- Failures ----------------------------------------------------------------------------

/** What a failed job carries in BullMQ's failedReason so the API can answer with the right status. */
export interface JobFailure {
  code: ErrorCode;
  message: string;
}

/** Serializes an error into a job's failedReason; unknown errors become INTERNAL. */
export function encodeJobFailure(error: unknown): string {
  const failure: JobFailure =
    error instanceof WamediaError
      ? { code: error.code, message: error.message }
      : { code: 'INTERNAL', message: 'internal error while processing the media' };
  return JSON.stringify(failure);
}

/** Reads a failedReason written by encodeJobFailure; anything else (a stalled job, ...) becomes INTERNAL. */
export function decodeJobFailure(failedReason: string | undefined): JobFailedError {
  try {
    const parsed = JSON.parse(failedReason ?? '') as Partial<JobFailure>;
    if (typeof parsed.code === 'string' && parsed.code in errorCatalogue && typeof parsed.message === 'string') {
      return new JobFailedError(parsed.code, parsed.message);
    }
  } catch {
    // not ours: BullMQ's own reasons (stalled too often, ...) are plain text
  }
  return new JobFailedError('INTERNAL', 'the download job failed');
}

// ---- Webhook jobs ------------------------------------------------------------------------

/** The queue of webhook deliveries, consumed by the workers. */
export const WEBHOOK_QUEUE = 'webhook-delivery';
export const WEBHOOK_JOB = 'deliver';
/** The backoff type of webhook jobs; the worker implements it (exponential, capped). */
export const WEBHOOK_BACKOFF = 'webhook-backoff';

/** One webhook to POST; the body is the JSON of `event`, signed at each attempt. */
export const webhookJobSchema = z.object({
  url: z.string(),
  event: webhookEventSchema,
});
export type WebhookJobData = z.infer<typeof webhookJobSchema>;
