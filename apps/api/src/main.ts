import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Queue, QueueEvents } from 'bullmq';
import {
  FileLinkSignature,
  createJobServices,
  runService,
  TokenVersionCache,
  TokenVersions,
} from '@wamedia/server';
import { DOWNLOAD_QUEUE, type DownloadJobData, type DownloadJobResult } from '@wamedia/shared';
import { answerClientError } from './http/protocol-errors.js';
import { buildOpenApiDocument } from './http/openapi-document.js';
import { createApp } from './http/app.js';
import { MediaDelivery } from './http/media-delivery.js';
import { ApiMetrics } from './services/api-metrics.js';
import { BatchService } from './services/batch-service.js';
import { Callbacks } from './services/callbacks.js';
import { DownloadJobs } from './services/download-jobs.js';
import { JobWaiter } from './services/job-waiter.js';
import { LinkedFiles } from './services/linked-files.js';
import { MediaService } from './services/media-service.js';
import { RequestRateLimiter } from './services/request-rate-limiter.js';
import { ReuploadService } from './services/reupload-service.js';
import { TokenVerifier } from './services/token-verifier.js';

/** Connections the kernel queues before the API accepts them (Linux caps it at net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

/** The API's version, as the OpenAPI document states it. */
const API_VERSION = '2.0.0';

runService('api', async ({ config, logger, redis: connector, store }) => {
  // While Redis is away, requests must get their 503 at once, not sit in ioredis's offline queue
  // until it is back (that is what a client sees as a hang). So the connections that serve
  // requests (the queue's, and ours: job owners, followers, limits, readiness) refuse commands
  // while disconnected, and give up on the ones in flight when the connection drops. Only these:
  // QueueEvents keeps BullMQ's blocking settings (its XREAD waits, then resumes from its last id).
  const failFast = { enableOfflineQueue: false, maxRetriesPerRequest: 1 } as const;
  const queue = new Queue<DownloadJobData, DownloadJobResult>(DOWNLOAD_QUEUE, {
    connection: connector.queueConnection(failFast),
    prefix: config.redisPrefix,
  });
  const events = new QueueEvents(DOWNLOAD_QUEUE, { connection: connector.queueConnection(), prefix: config.redisPrefix });
  // Connected before use: without an offline queue, a command sent before "ready" would fail.
  const redis = connector.client({ ...failFast, lazyConnect: true });
  const onRedisError = (err: Error) => logger.warn({ err }, 'redis connection error');
  queue.on('error', onRedisError);
  events.on('error', onRedisError);
  redis.on('error', onRedisError);
  await Promise.all([events.waitUntilReady(), queue.waitUntilReady(), redis.connect()]);

  const waiter = new JobWaiter(queue, events);
  // The webhook queue serves requests too (events of batches that end as they are submitted).
  const shared = createJobServices(config, connector, redis, store, failFast);
  await shared.followers.waitUntilReady();
  const { followers, secrets, index, links, mediaHosts: allowList } = shared;
  const jobs = new DownloadJobs(
    queue,
    redis,
    followers.subscriptions,
    {
      attempts: config.jobAttempts,
      retentionSeconds: config.jobRetentionSeconds,
      failedJobReuseMs: config.failedJobReuseMs,
      prefix: config.redisPrefix,
    },
    shared.jobsInFlight,
    shared.reuploads,
  );
  const depthQueues = followers.webhookQueue ? [queue, followers.webhookQueue] : [queue];
  const metrics = new ApiMetrics(queue, depthQueues, () => waiter.size);
  const reuploads = new ReuploadService({ jobs, reuploads: shared.reuploads, secrets });
  const callbacks = new Callbacks(followers, shared.callbackPolicy, reuploads);
  const service = new MediaService({ jobs, waiter, store, index, allowList, callbacks, metrics, secrets, reuploads });
  const batches = new BatchService({
    jobs,
    index,
    store,
    followers,
    allowList,
    callbacks,
    maxItems: config.batchMaxItems,
    secrets,
    reuploads,
    links,
  });
  const delivery = new MediaDelivery({
    links,
    linkTtlSeconds: config.signedUrlTtlSeconds,
    publicBaseUrl: config.publicBaseUrl,
    base64MaxBytes: config.base64MaxBytes,
  });
  const linkedFiles = new LinkedFiles({ signature: new FileLinkSignature(config.signedUrlKey), store });
  // Revocations are announced on pub/sub: a connection of its own, in subscriber mode.
  const revocations = connector.client();
  revocations.on('error', onRedisError);
  const tokenVersions = new TokenVersionCache(new TokenVersions(redis, config.redisPrefix), revocations, {
    prefix: config.redisPrefix,
  });
  const tokens = new TokenVerifier({
    secret: config.jwtSecret,
    clockSkewSeconds: config.jwtClockSkewSeconds,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    maxLifetimeSeconds: config.jwtMaxLifetimeSeconds,
    allowNoExp: config.jwtAllowNoExp,
    versions: tokenVersions,
  });
  const requestRate = new RequestRateLimiter(redis, {
    prefix: config.redisPrefix,
    perMinute: config.instanceRequestsPerMinute,
    onSyncError: (err) => logger.warn({ err }, 'request rates not shared: Redis did not answer'),
  });
  const app = createApp({
    logger,
    service,
    batches,
    reuploads,
    delivery,
    linkedFiles,
    queue,
    metrics,
    checks: [
      { name: 'redis', ping: () => redis.ping() },
      { name: 'storage', ping: () => store.ping() },
    ],
    openApiDocument: buildOpenApiDocument({
      maxWaitMs: config.maxWaitMs,
      maxBatchItems: config.batchMaxItems,
      maxLinkTtlSeconds: config.signedUrlTtlSeconds,
      base64MaxBytes: config.base64MaxBytes,
      version: API_VERSION,
    }),
    tokens,
    tokenVersions,
    maxWaitMs: config.maxWaitMs,
    requestRate,
    adminToken: config.adminToken,
    webhookSecret: config.webhookSecret,
  });

  // Node's parser refusals and its Host check answer bare status lines: ours carry the error body.
  const server = createServer({ requireHostHeader: false }, app);
  server.on('clientError', answerClientError);
  // Node's default backlog (511) drops the connects of a burst of clients (thousands waiting for
  // their media at once): they only get in on a retry, seconds later.
  server.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  await once(server, 'listening');
  // The bound port, not the configured one: PORT=0 picks a free port (tests, several APIs per host).
  const { port } = server.address() as AddressInfo;
  logger.info({ port, host: config.host, storage: config.storage.kind }, 'api listening');

  return async (signal) => {
    logger.info({ signal }, 'shutting down: no new connections, in-flight requests may finish');
    // Waiting clients are answered 202 with their job, which goes on without us.
    waiter.close();
    await closeServer(server, config.shutdownGraceMs);
    await Promise.allSettled([events.close(), queue.close(), shared.close(), store.close(), requestRate.close()]);
    await Promise.all([redis, revocations].map((connection) => connection.quit().catch(() => undefined)));
    await connector.close();
  };
});

/** Stops accepting connections, lets in-flight responses finish for up to `graceMs`, then cuts the rest. */
async function closeServer(server: Server, graceMs: number): Promise<void> {
  const closed = once(server, 'close');
  server.close();
  server.closeIdleConnections();
  await Promise.race([closed, delay(graceMs)]);
  server.closeAllConnections();
}
