import { createJobServices, runService } from '@wamedia/server';
import { CdnClient } from './cdn-client.js';
import { DownloadWorker } from './download-worker.js';
import { HealthServer } from './health-server.js';
import { MediaProcessor, maxEncryptedBytes } from './media-processor.js';
import { ReuploadRelay } from './reupload-relay.js';
import { StaleTempSweeper } from './stale-temp-sweeper.js';
import { WebhookSender } from './webhook-sender.js';
import { WebhookWorker } from './webhook-worker.js';
import { WorkerMetrics } from './worker-metrics.js';

runService('worker', async ({ config, logger, redis: connector, store }) => {
  // Its own small connection: readiness and job followers must not queue behind BullMQ's
  // blocking commands.
  const redis = connector.client({ maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const shared = createJobServices(config, connector, redis, store);

  const cdn = new CdnClient({
    baseUrl: config.cdnBaseUrl,
    allowList: shared.mediaHosts,
    connectTimeoutMs: config.cdnConnectTimeoutMs,
    idleTimeoutMs: config.cdnIdleTimeoutMs,
    totalTimeoutMs: config.cdnTotalTimeoutMs,
    maxBytes: maxEncryptedBytes(config.maxMediaBytes),
  });
  const metrics = new WorkerMetrics();
  const processor = new MediaProcessor({
    cdn,
    store,
    index: shared.index,
    maxMediaBytes: config.maxMediaBytes,
    logger,
    metrics,
    secrets: shared.secrets,
  });
  const worker = new DownloadWorker(processor, {
    connection: connector.queueConnection(),
    prefix: config.redisPrefix,
    concurrency: config.workerConcurrency,
    backoffMs: config.jobBackoffMs,
    lockMs: config.jobLockMs,
    maxStalls: config.jobMaxStalls,
    logger,
    metrics,
    notifier: shared.followers.notifier,
    jobsInFlight: shared.jobsInFlight,
    relay: new ReuploadRelay({
      store: shared.reuploads,
      notifier: shared.followers.reuploads,
      secrets: shared.secrets,
      waitMs: config.reuploadWaitMs,
      logger,
    }),
  });
  await worker.ready();
  // What killed workers left half-written: removed at start and every few minutes.
  const sweeper = new StaleTempSweeper(store, logger);
  sweeper.start();

  // Webhook delivery runs only with a secret to sign with (the API refuses callback URLs without one).
  const webhookSender = config.webhookSecret
    ? new WebhookSender({
        secret: config.webhookSecret,
        policy: shared.callbackPolicy,
        timeoutMs: config.webhookTimeoutMs,
      })
    : undefined;
  const webhooks =
    webhookSender &&
    new WebhookWorker(webhookSender, {
      connection: connector.queueConnection(),
      prefix: config.redisPrefix,
      logger,
      metrics,
    });
  await webhooks?.ready();

  const health = new HealthServer(
    [
      { name: 'redis', ping: () => redis.ping() },
      { name: 'storage', ping: () => store.ping() },
    ],
    metrics,
  );
  const healthPort = await health.listen(config.workerHealthPort);
  logger.info({ concurrency: config.workerConcurrency, storage: config.storage.kind, healthPort }, 'worker ready');

  return async (signal) => {
    logger.info({ signal }, 'shutting down: finishing active jobs');
    // Stopped alongside the downloads: webhooks not yet sent wait in their queue for another worker.
    const webhooksStopped = webhooks?.stop(config.shutdownGraceMs).then(() => webhookSender?.close());
    await worker.stop(config.shutdownGraceMs);
    await webhooksStopped?.catch((err: unknown) => logger.warn({ err }, 'webhook worker did not stop cleanly'));
    await sweeper.stop();
    await Promise.allSettled([cdn.close(), health.close(), store.close(), shared.close()]);
    await redis.quit().catch(() => undefined);
    await connector.close();
  };
});
