import type { ConnectionBehaviour, RedisClient, RedisConnector } from './redis/redis-connector.js';
import { createJobFollowers, type JobFollowers } from './batch/job-followers.js';
import type { Config } from './config.js';
import { JobSecrets } from './job-secrets.js';
import { JobsInFlight } from './jobs-in-flight.js';
import { ReuploadStore } from './reupload/reupload-store.js';
import { createMediaLinks } from './links/create-media-links.js';
import type { MediaLinks } from './links/media-links.js';
import { CallbackPolicy } from './ssrf/callback-policy.js';
import { HostAllowList } from './ssrf/host-allow-list.js';
import type { BlobStore } from './storage/blob-store.js';
import { MediaIndex } from './storage/media-index.js';

/** What the API and the workers both build from the same settings, to agree on every job. */
export interface JobServices {
  /** Batches, job subscriptions, the end-of-job notifier and the webhook outbox. */
  followers: JobFollowers;
  /** INSTANCE_MAX_JOBS_IN_FLIGHT: the API reserves, the worker releases. */
  jobsInFlight: JobsInFlight;
  /** Seals (API) and opens (worker) the mediaKey in job data: JOB_DATA_KEY. */
  secrets: JobSecrets;
  /** Re-upload rounds of jobs whose media expired: the worker opens them, the API answers them. */
  reuploads: ReuploadStore;
  /** Cache key → stored media. */
  index: MediaIndex;
  /** MEDIA_ALLOWED_HOSTS. */
  mediaHosts: HostAllowList;
  /** WEBHOOK_ALLOWED_HOSTS. */
  callbackPolicy: CallbackPolicy;
  /** Links to stored media: presigned on S3, signed by the API (SIGNED_URL_SECRET) on a folder. */
  links: MediaLinks;
  /** Closes what the services opened (the webhook queue); `redis` and `store` stay the caller's. */
  close(): Promise<void>;
}

/**
 * Builds the {@link JobServices} on `redis` (a connection that serves commands) and `store`; the
 * webhook queue connects through `connector` with `queueBehaviour` (see createJobFollowers).
 */
export function createJobServices(
  config: Config,
  connector: RedisConnector,
  redis: RedisClient,
  store: BlobStore,
  queueBehaviour: ConnectionBehaviour = {},
): JobServices {
  const links = createMediaLinks(config);
  const followers = createJobFollowers(config, redis, links, () => connector.queueConnection(queueBehaviour));
  return {
    followers,
    jobsInFlight: new JobsInFlight(redis, {
      prefix: config.redisPrefix,
      limit: config.instanceMaxJobsInFlight,
      ttlSeconds: config.jobRetentionSeconds,
    }),
    secrets: new JobSecrets(config.jobDataKey),
    reuploads: new ReuploadStore(redis, { prefix: config.redisPrefix, retentionSeconds: config.jobRetentionSeconds }),
    index: new MediaIndex(store),
    mediaHosts: new HostAllowList(config.allowedHosts),
    callbackPolicy: new CallbackPolicy(config.webhookAllowedHosts),
    links,
    close: () => followers.close(),
  };
}
