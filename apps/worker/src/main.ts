import { Redis } from 'ioredis';
import {
  HostAllowList,
  MediaIndex,
  assertRedisReachable,
  createBlobStore,
  createLogger,
  loadConfig,
  redisConnectionOptions,
  runMain,
} from '@wamedia/shared';
import { CdnClient } from './cdn-client.js';
import { DownloadWorker } from './download-worker.js';
import { HealthServer } from './health-server.js';
import { MediaProcessor, maxEncryptedBytes } from './media-processor.js';
import { WorkerMetrics } from './worker-metrics.js';

runMain('wamedia worker', async () => {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'worker' });
  await assertRedisReachable(config.redisUrl);
  const store = createBlobStore(config.storage);
  await store.ping();

  const cdn = new CdnClient({
    baseUrl: config.cdnBaseUrl,
    allowList: new HostAllowList(config.allowedHosts),
    connectTimeoutMs: config.cdnConnectTimeoutMs,
    idleTimeoutMs: config.cdnIdleTimeoutMs,
    maxBytes: maxEncryptedBytes(config.maxMediaBytes),
  });
  const metrics = new WorkerMetrics();
  const processor = new MediaProcessor({
    cdn,
    store,
    index: new MediaIndex(store),
    maxMediaBytes: config.maxMediaBytes,
    logger,
    metrics,
  });
  const worker = new DownloadWorker(processor, {
    connection: redisConnectionOptions(config.redisUrl),
    prefix: config.redisPrefix,
    concurrency: config.workerConcurrency,
    backoffMs: config.jobBackoffMs,
    lockMs: config.jobLockMs,
    logger,
    metrics,
  });
  await worker.ready();

  // Its own small connection: readiness must not queue behind BullMQ's blocking commands.
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  const health = new HealthServer(
    [
      { name: 'redis', ping: () => redis.ping() },
      { name: 'storage', ping: () => store.ping() },
    ],
    metrics,
  );
  const healthPort = await health.listen(config.workerHealthPort);
  logger.info({ concurrency: config.workerConcurrency, storage: config.storage.kind, healthPort }, 'worker ready');

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down: finishing active jobs');
    await worker.stop(config.shutdownGraceMs);
    await Promise.allSettled([cdn.close(), health.close(), store.close(), redis.quit()]);
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', (signal) => void shutdown(signal));
  process.once('SIGINT', (signal) => void shutdown(signal));
});
