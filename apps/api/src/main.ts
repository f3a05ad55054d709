import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import {
  DOWNLOAD_QUEUE,
  CallbackPolicy,
  HostAllowList,
  MediaIndex,
  assertRedisReachable,
  createBlobStore,
  createJobFollowers,
  createLogger,
  loadConfig,
  onShutdownSignal,
  redisConnectionOptions,
  runMain,
  type DownloadJobData,
  type DownloadJobResult,
} from '@wamedia/shared';
import { ApiMetrics } from './api-metrics.js';
import { createApp } from './app.js';
import { BatchService } from './batch-service.js';
import { Callbacks } from './callbacks.js';
import { DownloadJobs } from './download-jobs.js';
import { JobWaiter } from './job-waiter.js';
import { MediaService } from './media-service.js';
import { buildOpenApiDocument } from './openapi.js';

/** The API's version, as the OpenAPI document states it. */
const API_VERSION = '2.0.0';

runMain('wamedia api', async () => {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'api' });
  await assertRedisReachable(config.redisUrl);
  const store = createBlobStore(config.storage);
  await store.ping();

  const connection = redisConnectionOptions(config.redisUrl);
  const queue = new Queue<DownloadJobData, DownloadJobResult>(DOWNLOAD_QUEUE, { connection, prefix: config.redisPrefix });
  const events = new QueueEvents(DOWNLOAD_QUEUE, { connection, prefix: config.redisPrefix });
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
  const onRedisError = (err: Error) => logger.warn({ err }, 'redis connection error');
  queue.on('error', onRedisError);
  events.on('error', onRedisError);
  redis.on('error', onRedisError);
  await events.waitUntilReady();

  const waiter = new JobWaiter(queue, events);
  const followers = createJobFollowers(config, redis);
  const jobs = new DownloadJobs(queue, redis, followers.subscriptions, {
    attempts: config.jobAttempts,
    retentionSeconds: config.jobRetentionSeconds,
    failedJobReuseMs: config.failedJobReuseMs,
    prefix: config.redisPrefix,
  });
  const allowList = new HostAllowList(config.allowedHosts);
  const metrics = new ApiMetrics(queue, () => waiter.size);
  const index = new MediaIndex(store);
  const callbacks = new Callbacks(followers, new CallbackPolicy(config.webhookAllowedHosts));
  const service = new MediaService({ jobs, waiter, store, index, allowList, callbacks, metrics });
  const batches = new BatchService({ jobs, index, followers, allowList, callbacks, maxItems: config.batchMaxItems });
  const app = createApp({
    logger,
    service,
    batches,
    store,
    queue,
    metrics,
    checks: [
      { name: 'redis', ping: () => redis.ping() },
      { name: 'storage', ping: () => store.ping() },
    ],
    openApiDocument: buildOpenApiDocument({ maxWaitMs: config.maxWaitMs, maxBatchItems: config.batchMaxItems, version: API_VERSION }),
    jwtSecret: config.jwtSecret,
    maxWaitMs: config.maxWaitMs,
    adminToken: config.adminToken,
  });

  const server = app.listen(config.port, config.host);
  await once(server, 'listening');
  // The bound port, not the configured one: PORT=0 picks a free port (tests, several APIs per host).
  const { port } = server.address() as AddressInfo;
  logger.info({ port, host: config.host, storage: config.storage.kind }, 'api listening');

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down: no new connections, in-flight requests may finish');
    // Waiting clients are answered 202 with their job, which goes on without us.
    waiter.close();
    await closeServer(server, config.shutdownGraceMs);
    await Promise.allSettled([events.close(), queue.close(), followers.close(), store.close()]);
    await redis.quit().catch(() => undefined);
    logger.info('stopped');
    process.exit(0);
  };
  onShutdownSignal(shutdown);
});

/** Stops accepting connections, lets in-flight responses finish for up to `graceMs`, then cuts the rest. */
async function closeServer(server: Server, graceMs: number): Promise<void> {
  const closed = once(server, 'close');
  server.close();
  server.closeIdleConnections();
  await Promise.race([closed, delay(graceMs)]);
  server.closeAllConnections();
}
