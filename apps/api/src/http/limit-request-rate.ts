import type { RequestHandler } from 'express';
import { RateLimitedError } from '@wamedia/shared';
import type { RequestRateLimiter } from '../services/request-rate-limiter.js';
import { instanceOf } from './require-instance-token.js';

/**
 * Counts each request of the route's instance in `limiter` (mount it after the token check):
 * past the limit, the RateLimitedError goes to the error handler (429 with Retry-After).
 *
 * When Redis does not answer, requests pass (fail open): the limit protects the others' share
 * and guards no data; whatever needs Redis (the token check, the queue) fails with 503 by itself.
 */
export function limitRequestRate(limiter: RequestRateLimiter): RequestHandler {
  return async (req, res, next) => {
    try {
      await limiter.hit(instanceOf(res));
    } catch (error) {
      if (error instanceof RateLimitedError) throw error;
      req.log.warn({ err: error }, 'request rate not counted: Redis did not answer');
    }
    next();
  };
}
