import type { RequestHandler } from 'express';
import jwt from 'jsonwebtoken';
import { ForbiddenError, UnauthorizedError } from '@wamedia/shared';

/**
 * Requires `Authorization: Bearer <JWT>` signed with HS256 and the route's instanceId as the
 * token's `instanceId` claim. The algorithm is pinned so a token can't pick its own
 * ("none", or an asymmetric one verified with the secret as a public key).
 */
export function requireInstanceToken(secret: string): RequestHandler<{ instanceId: string }> {
  return (req, res, next) => {
    const instanceId = verifyToken(req.get('authorization'), secret);
    if (instanceId !== req.params.instanceId) {
      throw new ForbiddenError('this token belongs to another instance');
    }
    res.locals.instanceId = instanceId;
    next();
  };
}

function verifyToken(header: string | undefined, secret: string): string {
  const token = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
  if (!token) throw new UnauthorizedError('missing bearer token: send Authorization: Bearer <JWT>');
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, secret, { algorithms: ['HS256'] });
  } catch (error) {
    const reason = error instanceof jwt.TokenExpiredError ? 'the token has expired' : 'the token is invalid';
    throw new UnauthorizedError(reason, { cause: error });
  }
  const instanceId = typeof payload === 'object' ? payload.instanceId : undefined;
  if (typeof instanceId !== 'string' || !instanceId) {
    throw new UnauthorizedError('the token has no instanceId claim');
  }
  return instanceId;
}
