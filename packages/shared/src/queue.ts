import type { ConnectionOptions } from 'bullmq';
import { z } from 'zod';
import { webhookEventSchema } from './batch-schemas.js';
import { contentTypeSchema } from './schemas.js';

/** Queue and job names shared by the API (producer) and the workers (consumer). */
export const DOWNLOAD_QUEUE = 'media-download';
export const DOWNLOAD_JOB = 'download';
/** The backoff type of download jobs; the worker implements it (exponential, Retry-After aware). */
export const DOWNLOAD_BACKOFF = 'download-backoff';

/**
 * The payload of a download job. Bytes travel as base64; the mediaKey is sealed by the API
 * (see job-secrets.ts: Redis never holds it in clear) and removed from the job once the job has
 * ended (see the worker).
 */
export const downloadJobSchema = z.object({
  contentType: contentTypeSchema,
  url: z.string().optional(),
  directPath: z.string().optional(),
  /** Sealed (`v1.<key id>.<data>`, see JobSecrets), bound to lookupKey; absent once the job has ended. */
  mediaKey: z.string().optional(),
  mimetype: z.string().optional(),
  fileSha256: z.string().optional(),
  fileEncSha256: z.string().optional(),
  fileLength: z.number().optional(),
  /** The cache key (see mediaLookupKey). */
  lookupKey: z.string(),
  /** The instance that first asked; others may share the job. */
  instanceId: z.string(),
  /** The API request id, so worker log lines can be matched to it. */
  requestId: z.string().optional(),
});

export type DownloadJobData = z.infer<typeof downloadJobSchema>;

/** What a completed download job returns. */
export interface DownloadJobResult {
  sha256: string;
  size: number;
  mimetype: string;
  /** True when the media was already stored and no CDN request was made. */
  cached: boolean;
}

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

/** BullMQ priority of batch downloads: any job without a priority (a waiting client's) goes first. */
export const BATCH_PRIORITY = 100;

/**
 * The job id of a media: a function of its cache key, so identical requests made at once share
 * one job and one CDN download (BullMQ ignores an add whose id already exists).
 */
export function downloadJobId(lookupKey: string): string {
  return `dl-${lookupKey}`;
}

/**
 * How long a Redis connection waits before its `times`-th reconnection attempt, in ms: 200, 400,
 * 800, then every second. Every process is back within a second of Redis coming back, however
 * long it was away (BullMQ's own default grows to 20 s between attempts, ioredis's to 5 s, so a
 * worker could idle that long after an outage); one attempt a second per connection costs a
 * down Redis nothing.
 */
export function reconnectDelay(times: number): number {
  return Math.min(100 * 2 ** times, 1_000);
}

/**
 * BullMQ connection options from REDIS_URL. Options, not an ioredis instance: BullMQ then owns
 * its connections and close() ends them. maxRetriesPerRequest must be null for blocking commands.
 * Reconnection follows {@link reconnectDelay}.
 */
export function redisConnectionOptions(redisUrl: string): ConnectionOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 6379),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
    retryStrategy: reconnectDelay,
  };
}
