import type { ConnectionOptions } from 'bullmq';

/**
 * How long a Redis connection waits before its `times`-th reconnection attempt, in ms: 200, 400,
 * 800, then every second. Every process is back within a second of Redis coming back, however
 * long it was away (BullMQ's own default grows to 20 s between attempts, ioredis's to 5 s, so a
 * worker could idle that long after an outage); one attempt a second per connection costs a
 * down Redis nothing.
 */
export function reconnectDelay(times: number): number {
  return Math.min(100 * 2 ** times, 1_000);
}

/**
 * BullMQ connection options from REDIS_URL. Options, not an ioredis instance: BullMQ then owns
 * its connections and close() ends them. maxRetriesPerRequest must be null for blocking commands.
 * Reconnection follows {@link reconnectDelay}.
 */
export function redisConnectionOptions(redisUrl: string): ConnectionOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 6379),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
    retryStrategy: reconnectDelay,
  };
}
