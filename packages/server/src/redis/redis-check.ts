import type { RedisConnector } from './redis-connector.js';

/**
 * Resolves when Redis (or the cluster) answers PING within `timeoutMs`; rejects with
 * QueueUnavailableError otherwise. Used at start-up so an unreachable Redis ends the process
 * with one clear line.
 */
export async function assertRedisReachable(connector: RedisConnector, timeoutMs = 3_000): Promise<void> {
  const redis = await connector.connectOnce(timeoutMs);
  try {
    await redis.ping();
  } finally {
    redis.disconnect();
  }
}

/**
 * Whether a command failed because Redis is away: the API's connections refuse commands while
 * disconnected and drop those in flight when the connection breaks (see the API's main.ts), Redis
 * is still loading its data after a restart, or a cluster is down, has no master for the slot,
 * or cannot be reached or mapped. Such failures are 503s, never 500s; any other error stays what
 * it is, so a bug is not passed off as an outage.
 */
export function isRedisUnavailable(error: unknown): boolean {
  const { name, message, previousErrors } = (error ?? {}) as { name?: unknown; message?: unknown; previousErrors?: unknown };
  if (name === 'MaxRetriesPerRequestError' || name === 'ClusterAllFailedError') return true;
  if (typeof message !== 'string') return false;
  // A MULTI whose commands a down cluster refused as they were queued (CLUSTERDOWN) is discarded
  // as a whole: the outage is in the errors it carries.
  if (message.startsWith('EXECABORT ')) return Array.isArray(previousErrors) && previousErrors.some(isRedisUnavailable);
  return SINGLE_REDIS_AWAY.test(message) || CLUSTER_AWAY.test(message);
}

const SINGLE_REDIS_AWAY =
  /^(Stream isn't writeable and enableOfflineQueue options is false|Connection is closed\.|LOADING |MASTERDOWN |TRYAGAIN )/;

const CLUSTER_AWAY =
  /^(CLUSTERDOWN |Cluster isn't ready and enableOfflineQueue options is false|Cluster is disconnect|None of startup nodes is available|Failed to refresh slots cache|Node is disconnected|Too many Cluster redirections)/;
