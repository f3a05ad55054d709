import type { Redis } from 'ioredis';
import { RateLimitedError } from '@wamedia/shared';

/** The length of a counting window, in ms. */
const WINDOW_MS = 60_000;

/**
 * Counts one request and reads the window's time left, in one round trip. The window starts at
 * an instance's first request and lasts WINDOW_MS (a fixed window: at most twice the limit can
 * pass around a window's end, which is fine for keeping one tenant from starving the others).
 * Redis's clock, not the APIs', times it; a key left without expiry (it cannot happen, but a
 * counter that never resets would lock an instance out) gets one.
 */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

export interface RequestRateLimiterOptions {
  /** REDIS_PREFIX. */
  prefix: string;
  /** Requests per minute per instance; 0 = no limit. */
  perMinute: number;
}

/**
 * INSTANCE_REQUESTS_PER_MINUTE: every request on an instance's routes counts (refused ones too,
 * so a client that ignores Retry-After stays refused until the window ends); past the limit,
 * RateLimitedError (429) with the seconds left in the window.
 *
 * Only counts and decides: http/limit-request-rate.ts applies it to the instance routes.
 */
export class RequestRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly options: RequestRateLimiterOptions,
  ) {}

  /**
   * Counts a request of `instanceId`.
   * @throws RateLimitedError past the limit; Redis errors as they come (the caller decides: the HTTP layer lets the request pass).
   */
  async hit(instanceId: string): Promise<void> {
    const { perMinute, prefix } = this.options;
    if (perMinute === 0) return;
    const key = `${prefix}:request-rate:${instanceId}`;
    const [count, ttlMs] = (await this.redis.eval(HIT_SCRIPT, 1, key, WINDOW_MS)) as [number, number];
    if (count <= perMinute) return;
    throw new RateLimitedError(
      `too many requests: instance ${instanceId} may make ${perMinute} per minute (INSTANCE_REQUESTS_PER_MINUTE); retry after the Retry-After seconds`,
      Math.max(1, Math.ceil(ttlMs / 1000)),
    );
  }
}
