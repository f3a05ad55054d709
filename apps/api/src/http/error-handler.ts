import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isRedisUnavailable } from '@wamedia/server';
import {
  InternalError,
  InvalidRequestError,
  QueueUnavailableError,
  RateLimitedError,
  RequestTooLargeError,
  RouteNotFoundError,
  WamediaError,
  toErrorBody,
} from '@wamedia/shared';

/** Headers sendMedia sets that describe the file, not an error (Content-Range stays: a 416 has its own). */
const MEDIA_HEADERS = ['Content-Disposition', 'Content-Type', 'Content-Length', 'ETag', 'Accept-Ranges'];

/** The one place where failures become HTTP answers. */
export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const known = toWamediaError(error);
  if (known instanceof InternalError) req.log.error({ err: error }, 'request failed');
  // Redis or storage trouble (503), the CDN giving up (502): not bugs, but an operator must see them.
  else if (known.status >= 500) req.log.warn({ err: error }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A failure after a media's headers were set (storage down, a refused header): the error must
  // not go out labelled as the file.
  for (const header of MEDIA_HEADERS) res.removeHeader(header);
  if (known instanceof RateLimitedError) res.setHeader('Retry-After', String(known.retryAfterSeconds));
  res.status(known.status).json(toErrorBody(known));
};

/** Unknown routes answer 404 in the same shape. */
export const routeNotFound: RequestHandler = (req) => {
  throw new RouteNotFoundError(req.method, req.path);
};

/**
 * Errors raised by express's body parser carry a `type`, or else a 4xx `status` (http-errors);
 * the router's URIError is a path that does not decode. Everything else unknown is internal.
 */
function toWamediaError(error: unknown): WamediaError {
  if (error instanceof WamediaError) return error;
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  if (type === 'entity.parse.failed') return new InvalidRequestError(['body: is not valid JSON']);
  if (type === 'entity.too.large') return new RequestTooLargeError('the request body is too large');
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
    return new InvalidRequestError(['body: unsupported charset or encoding']);
  }
  // The client went away mid-body, or sent fewer or more bytes than its Content-Length.
  if (type === 'request.aborted' || type === 'request.size.invalid') {
    return new InvalidRequestError(['body: ended before its Content-Length, or went past it']);
  }
  if (error instanceof URIError) return new InvalidRequestError(['path: is not valid percent-encoded UTF-8']);
  if (isRedisUnavailable(error)) return new QueueUnavailableError('the job queue (Redis) is unavailable', { cause: error });
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // e.g. zlib's "incorrect header check": a body that is not the gzip, deflate or br it claims to be.
    return new InvalidRequestError([`body: could not be read (${(error as Error).message})`]);
  }
  return new InternalError('internal server error', { cause: error });
}
