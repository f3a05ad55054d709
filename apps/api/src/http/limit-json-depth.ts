import type { RequestHandler } from 'express';
import { InvalidRequestError, MAX_JSON_DEPTH, jsonDepthExceeds } from '@wamedia/shared';

/**
 * Refuses (400) a parsed JSON body nested deeper than `maxDepth` (see MAX_JSON_DEPTH: deeper
 * values overflow the stack in validation, a 500 for what is a bad request); mount it after express.json().
 */
export function limitJsonDepth(maxDepth = MAX_JSON_DEPTH): RequestHandler {
  return (req, _res, next) => {
    if (jsonDepthExceeds(req.body, maxDepth)) {
      throw new InvalidRequestError([`body: nested deeper than ${maxDepth} levels`]);
    }
    next();
  };
}
