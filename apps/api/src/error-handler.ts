import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  InternalError,
  InvalidRequestError,
  RequestTooLargeError,
  RouteNotFoundError,
  WamediaError,
  toErrorBody,
} from '@wamedia/shared';

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
  res.status(known.status).json(toErrorBody(known));
};

/** Unknown routes answer 404 in the same shape. */
export const routeNotFound: RequestHandler = (req) => {
  throw new RouteNotFoundError(req.method, req.path);
};

/** Errors raised by express's body parser carry a `type`; everything else unknown is internal. */
function toWamediaError(error: unknown): WamediaError {
  if (error instanceof WamediaError) return error;
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.parse.failed') return new InvalidRequestError(['body: is not valid JSON']);
  if (type === 'entity.too.large') return new RequestTooLargeError('the request body is too large');
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
    return new InvalidRequestError(['body: unsupported charset or encoding']);
  }
  return new InternalError('internal server error', { cause: error });
}
