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

  /** How long the CDN asked us to wait before the next attempt, if it did (see retryDelay). */
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
