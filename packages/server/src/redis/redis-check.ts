import { Redis } from 'ioredis';
import { QueueUnavailableError } from '@wamedia/shared';

/**
 * A connection for one-shot use (start-up checks, CLI commands): no retries, so an unreachable
 * Redis is reported at once, in one line naming REDIS_URL, instead of reconnecting forever.
 * @throws QueueUnavailableError naming the (password-redacted) URL and the socket's reason.
 */
export async function connectOnce(redisUrl: string, timeoutMs = 3_000): Promise<Redis> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // ioredis rejects connect() with "Connection is closed."; the socket's own error says why.
  let socketError: Error | undefined;
  redis.on('error', (error: Error) => (socketError ??= error));
  try {
    await redis.connect();
    return redis;
  } catch (error) {
    // Once ended (no retries) there is nothing to close; disconnect() then would hold the process ~2 s.
    if (redis.status !== 'end') redis.disconnect();
    const cause = socketError ?? error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new QueueUnavailableError(`cannot reach Redis at ${redactUrl(redisUrl)} (REDIS_URL): ${reason}`, { cause });
  }
}

/**
 * Resolves when Redis answers PING within `timeoutMs`; rejects with QueueUnavailableError
 * otherwise. Used at start-up so an unreachable Redis ends the process with one clear line.
 */
export async function assertRedisReachable(redisUrl: string, timeoutMs = 3_000): Promise<void> {
  const redis = await connectOnce(redisUrl, timeoutMs);
  try {
    await redis.ping();
  } finally {
    redis.disconnect();
  }
}

/**
 * Whether a command failed because Redis is away: the API's connections refuse commands while
 * disconnected and drop those in flight when the connection breaks (see the API's main.ts), or
 * Redis is still loading its data after a restart. Such failures are 503s, never 500s; any other
 * error stays what it is, so a bug is not passed off as an outage.
 */
export function isRedisUnavailable(error: unknown): boolean {
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  if (name === 'MaxRetriesPerRequestError') return true;
  return (
    typeof message === 'string' &&
    /^(Stream isn't writeable and enableOfflineQueue options is false|Connection is closed\.|LOADING |MASTERDOWN |TRYAGAIN )/.test(message)
  );
}

/** The URL without its password, fit for messages. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
