import type { RedisClient } from '@wamedia/server';
import { RateLimitedError } from '@wamedia/shared';

/** The length of a counting window, in ms. */
const WINDOW_MS = 60_000;

/** How often each process adds its new counts to the shared ones, in ms. */
const SYNC_INTERVAL_MS = 50;

/**
 * Adds a process's new requests to an instance's shared count and reads the count and the
 * window's time left, in one round trip. The window starts at an instance's first request and
 * lasts WINDOW_MS (a fixed window: at most twice the limit can pass around a window's end, which
 * is fine for keeping one tenant from starving the others). Redis's clock, not the APIs', times
 * it; a key left without expiry (it cannot happen, but a counter that never resets would lock an
 * instance out) gets one.
 */
const ADD_SCRIPT = `
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
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
  /** Called when the shared counts could not be updated (the limit then holds per process); once per outage. */
  onSyncError?: (error: unknown) => void;
}

/** What this process knows of one instance's window. */
interface Window {
  /** The shared count at the last sync (every process's requests). */
  shared: number;
  /** This process's requests not yet added to the shared count. */
  unsent: number;
  /** When the window ends, by this process's clock (performance.now()), as of the last sync. */
  endsAt: number;
}

/**
 * INSTANCE_REQUESTS_PER_MINUTE: every request on an instance's routes counts (refused ones too,
 * so a client that ignores Retry-After stays refused until the window ends); past the limit,
 * RateLimitedError (429) with the seconds left in the window.
 *
 * Counting costs a request no Redis round trip: each process counts in memory and adds its counts
 * to the shared ones every SYNC_INTERVAL_MS, reading back what the others added. A process thus
 * decides on every request of its own at once and on the others' up to one interval late: over
 * all processes, an instance may pass its limit by what the others accept in one interval. When
 * Redis does not answer, each process keeps counting on its own (the limit protects the others'
 * share and guards no data).
 *
 * Only counts and decides: http/limit-request-rate.ts applies it to the instance routes.
 */
export class RequestRateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private failing = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RequestRateLimiterOptions,
  ) {
    if (options.perMinute === 0) return;
    this.timer = setInterval(() => void this.sync(), SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Counts a request of `instanceId`.
   * @throws RateLimitedError past the limit.
   */
  hit(instanceId: string): void {
    const { perMinute } = this.options;
    if (perMinute === 0) return;
    const now = performance.now();
    let window = this.windows.get(instanceId);
    if (!window || now >= window.endsAt) {
      // Unsent counts of an ended window belong to no window any more.
      window = { shared: 0, unsent: 0, endsAt: now + WINDOW_MS };
      this.windows.set(instanceId, window);
    }
    window.unsent++;
    if (window.shared + window.unsent <= perMinute) return;
    throw new RateLimitedError(
      `too many requests: instance ${instanceId} may make ${perMinute} per minute (INSTANCE_REQUESTS_PER_MINUTE); retry after the Retry-After seconds`,
      Math.max(1, Math.ceil((window.endsAt - now) / 1000)),
    );
  }

  /** Stops syncing, after one last sync of what is counted. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sync();
  }

  private sync(): Promise<void> {
    // A slow Redis is not sent a second sync while the first is out.
    this.syncing ??= this.syncAll().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncAll(): Promise<void> {
    const now = performance.now();
    const batch = this.redis.pipeline();
    const sent: [string, Window, number][] = [];
    for (const [instanceId, window] of this.windows) {
      if (now >= window.endsAt) this.windows.delete(instanceId);
      else if (window.unsent > 0) {
        batch.eval(ADD_SCRIPT, 1, this.key(instanceId), WINDOW_MS, window.unsent);
        sent.push([instanceId, window, window.unsent]);
      }
    }
    if (sent.length === 0) return;
    try {
      const replies = (await batch.exec()) ?? [];
      sent.forEach(([, window, count], i) => {
        const [error, reply] = replies[i] ?? [new Error('no reply')];
        if (error) throw error;
        const [shared, ttlMs] = reply as [number, number];
        Object.assign(window, { shared, unsent: window.unsent - count, endsAt: performance.now() + ttlMs });
      });
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.options.onSyncError?.(error);
      this.failing = true;
    }
  }

  private key(instanceId: string): string {
    return `${this.options.prefix}:request-rate:${instanceId}`;
  }
}
