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
import { MediaProcessor, maxEncryptedBytes } from './media-processor.js';

/** How long active jobs may run on after SIGTERM before they are handed back, in ms. */
const SHUTDOWN_GRACE_MS = 25_000;

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
  const processor = new MediaProcessor({
    cdn,
    store,
    index: new MediaIndex(store),
    maxMediaBytes: config.maxMediaBytes,
    logger,
  });
  const worker = new DownloadWorker(processor, {
    connection: redisConnectionOptions(config.redisUrl),
    prefix: config.redisPrefix,
    concurrency: config.workerConcurrency,
    backoffMs: config.jobBackoffMs,
    logger,
  });
  await worker.ready();
  logger.info({ concurrency: config.workerConcurrency, storage: config.storage.kind }, 'worker ready');

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'shutting down: finishing active jobs');
    await worker.stop(SHUTDOWN_GRACE_MS);
    await cdn.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', (signal) => void shutdown(signal));
  process.once('SIGINT', (signal) => void shutdown(signal));
});
