import type { RequestHandler } from 'express';
import type { RequestRateLimiter } from '../services/request-rate-limiter.js';
import { instanceOf } from './require-instance-token.js';

/**
 * Counts each request of the route's instance in `limiter` (mount it after the token check):
 * past the limit, the RateLimitedError goes to the error handler (429 with Retry-After).
 */
export function limitRequestRate(limiter: RequestRateLimiter): RequestHandler {
  return (_req, res, next) => {
    limiter.hit(instanceOf(res));
    next();
  };
}
