import type { RequestHandler, Response } from 'express';
import { UnauthorizedError } from '@wamedia/shared';
import type { TokenVerifier } from '../services/token-verifier.js';

/**
 * Requires `Authorization: Bearer <JWT>` for the route's instance: no bearer token is a 401, then
 * `tokens` checks it (see {@link TokenVerifier} for the checks and their order). The checked
 * instance is then {@link instanceOf} the response.
 */
export function requireInstanceToken(tokens: TokenVerifier): RequestHandler<{ instanceId: string }> {
  return async (req, res, next) => {
    const token = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!token) throw new UnauthorizedError('missing bearer token: send Authorization: Bearer <JWT>');
    res.locals.instanceId = await tokens.verify(token, req.params.instanceId);
    next();
  };
}

/** The instance the request's token was checked for, as {@link requireInstanceToken} left it. */
export function instanceOf(res: Response): string {
  return res.locals.instanceId as string;
}
