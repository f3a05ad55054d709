import { loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { assertRedisReachable } from './redis/redis-check.js';
import { RedisConnector } from './redis/redis-connector.js';
import { onShutdownSignal, runMain } from './run-main.js';
import type { BlobStore } from './storage/blob-store.js';
import { createBlobStore } from './storage/create-blob-store.js';

/** What every service process starts from. */
export interface ServiceBasics {
  config: Config;
  logger: Logger;
  /** Makes the process's Redis connections (one Redis or a cluster); the service closes it last. */
  redis: RedisConnector;
  /** The blob store, already known to answer. */
  store: BlobStore;
}

/**
 * The first steps of a service process (the API, a worker): the configuration read and checked,
 * the root logger, Redis known to answer and the blob store opened and known to answer.
 * @throws ConfigError, QueueUnavailableError or StorageUnavailableError: runMain prints it in one line.
 */
async function startService(name: 'api' | 'worker'): Promise<ServiceBasics> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name });
  const redis = RedisConnector.fromConfig(config);
  await assertRedisReachable(redis);
  const store = await createBlobStore(config.storage);
  await store.ping();
  return { config, logger, redis, store };
}

/** Stops a running service: lets in-flight work finish (within its grace) and closes everything. */
export type StopService = (signal: NodeJS.Signals) => Promise<void>;

/**
 * Runs a service process: {@link startService}, then `start`, which builds the service and says
 * how to stop it. The first SIGTERM or SIGINT stops it, logs "stopped" and exits 0; a failure to
 * start exits 1 with one line (see runMain).
 */
export function runService(name: 'api' | 'worker', start: (basics: ServiceBasics) => Promise<StopService>): void {
  runMain(`wamedia ${name}`, async () => {
    const basics = await startService(name);
    const stop = await start(basics);
    onShutdownSignal(async (signal) => {
      await stop(signal);
      basics.logger.info('stopped');
      process.exit(0);
    });
  });
}
