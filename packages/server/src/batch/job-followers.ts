import { Queue, type ConnectionOptions } from 'bullmq';
import type { RedisClient } from '../redis/redis-connector.js';
import type { Config } from '../config.js';
import { WEBHOOK_QUEUE, type WebhookJobData } from '@wamedia/shared';
import type { MediaLinks } from '../links/media-links.js';
import { BatchStore } from './batch-store.js';
import { JobEndNotifier } from './job-end-notifier.js';
import { JobSubscriptions } from './job-subscriptions.js';
import { ReuploadNotifier } from './reupload-notifier.js';
import { WebhookOutbox } from './webhook-outbox.js';

/** Everything that follows download jobs for batches and webhooks, wired once per process. */
export interface JobFollowers {
  subscriptions: JobSubscriptions;
  batches: BatchStore;
  notifier: JobEndNotifier;
  /** Tells followers that a job waits for the phone to re-upload its media. */
  reuploads: ReuploadNotifier;
  /** Undefined when webhooks are off (no WEBHOOK_SECRET). */
  outbox: WebhookOutbox | undefined;
  /** The outbox's queue, whose depth the API exports; undefined when webhooks are off. */
  webhookQueue: Queue<WebhookJobData> | undefined;
  /** Resolves once the webhook queue's connection is up (at once when webhooks are off). */
  waitUntilReady(): Promise<void>;
  close(): Promise<void>;
}

/**
 * @param links makes the links of batches submitted with `"links": true`.
 * @param queueConnection the webhook queue's connection (RedisConnector.queueConnection): the API
 *   makes it fail fast (no offline queue), so that while Redis is away its commands are refused at
 *   once (503) instead of piling up in memory without bound until it is back.
 */
export function createJobFollowers(
  config: Config,
  redis: RedisClient,
  links: MediaLinks,
  queueConnection: () => ConnectionOptions,
): JobFollowers {
  const keys = { prefix: config.redisPrefix, retentionSeconds: config.jobRetentionSeconds };
  const subscriptions = new JobSubscriptions(redis, keys);
  const batches = new BatchStore(redis, keys);
  const queue = config.webhookSecret
    ? new Queue<WebhookJobData>(WEBHOOK_QUEUE, {
        connection: queueConnection(),
        prefix: config.redisPrefix,
      })
    : undefined;
  const outbox = queue
    ? new WebhookOutbox(queue, { attempts: config.webhookAttempts, retentionSeconds: config.jobRetentionSeconds })
    : undefined;
  return {
    subscriptions,
    batches,
    outbox,
    webhookQueue: queue,
    notifier: new JobEndNotifier({ subscriptions, batches, outbox, links, linkTtlSeconds: config.signedUrlTtlSeconds }),
    reuploads: new ReuploadNotifier({ subscriptions, batches, outbox }),
    waitUntilReady: async () => {
      await queue?.waitUntilReady();
    },
    close: async () => queue?.close(),
  };
}
