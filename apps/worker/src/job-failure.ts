import { UnrecoverableError } from 'bullmq';
import { CdnUnavailableError, InternalError, WamediaError, encodeJobFailure } from '@wamedia/shared';

/**
 * A failed attempt as BullMQ sees it: the message carries the failure's code for the API
 * (see decodeJobFailure), the cause keeps the original error.
 */
export class AttemptFailedError extends Error {
  constructor(readonly failure: WamediaError) {
    super(encodeJobFailure(failure), { cause: failure });
  }

  /** How long the CDN asked us to wait before the next attempt, if it did. */
  get retryAfterMs(): number | undefined {
    return this.failure instanceof CdnUnavailableError ? this.failure.retryAfterMs : undefined;
  }
}

/**
 * Decides, once, what another attempt may fix. Final failures (integrity, expired media, too
 * large, a host outside the allow-list) become UnrecoverableError so they burn no attempts.
 */
export function toAttemptError(error: unknown): Error {
  const failure = asWamediaError(error);
  if (!failure.retryable && !(failure instanceof InternalError)) {
    return new UnrecoverableError(encodeJobFailure(failure));
  }
  return new AttemptFailedError(failure);
}

/** The error as the catalogue knows it; anything unexpected is INTERNAL (its cause kept). */
export function asWamediaError(error: unknown): WamediaError {
  return error instanceof WamediaError ? error : new InternalError('unexpected error', { cause: error });
}

/**
 * BullMQ backoff: exponential from `baseMs`, but never sooner than the CDN's Retry-After,
 * and never more than `maxMs`.
 */
export function retryDelay(attemptsMade: number, error: Error | undefined, baseMs: number, maxMs = 60_000): number {
  const exponential = baseMs * 2 ** Math.max(0, attemptsMade - 1);
  const retryAfter = error instanceof AttemptFailedError ? (error.retryAfterMs ?? 0) : 0;
  return Math.min(maxMs, Math.max(exponential, retryAfter));
}
