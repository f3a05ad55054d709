import { Redis } from 'ioredis';
import { QueueUnavailableError } from './errors.js';

/**
 * Resolves when Redis answers PING within `timeoutMs`; rejects with QueueUnavailableError
 * otherwise. Used at start-up so an unreachable Redis ends the process with one clear line
 * instead of endless reconnect attempts.
 */
export async function assertRedisReachable(redisUrl: string, timeoutMs = 3_000): Promise<void> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new QueueUnavailableError(`cannot reach Redis at ${redactUrl(redisUrl)} (REDIS_URL): ${reason}`, {
      cause: error,
    });
  } finally {
    redis.disconnect();
  }
}

/** The URL without its password, fit for messages. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
