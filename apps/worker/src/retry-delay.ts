/** The backoff of one queue: where the delays start and where they stop. */
export interface Backoff {
  /** Delay before the second attempt, in ms; doubled for each attempt after it. */
  baseMs: number;
  /** Longest delay, in ms, the other side's Retry-After included. */
  maxMs: number;
}

/**
 * What the backoff reads from a failed attempt: how long the other side (the CDN, a webhook
 * receiver) asked us to wait, when it did.
 */
export interface RetryAfterHint {
  readonly retryAfterMs?: number | undefined;
}

/**
 * BullMQ backoff of downloads and webhooks alike: exponential from `baseMs`, never sooner than
 * the error's Retry-After (see {@link RetryAfterHint}), never more than `maxMs`.
 */
export function retryDelay(attemptsMade: number, error: Error | undefined, backoff: Backoff): number {
  const exponential = backoff.baseMs * 2 ** Math.max(0, attemptsMade - 1);
  return Math.min(backoff.maxMs, Math.max(exponential, retryAfterMs(error)));
}

/** The error's Retry-After in ms, 0 when it carries none. */
function retryAfterMs(error: (Error & RetryAfterHint) | undefined): number {
  const asked = error?.retryAfterMs;
  return typeof asked === 'number' ? asked : 0;
}
