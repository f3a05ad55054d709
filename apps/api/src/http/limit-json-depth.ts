import type { RequestHandler } from 'express';
import { InvalidRequestError } from '@wamedia/shared';

/**
 * How deep a request body may nest. A WhatsApp message nests a few levels (a wrapper or two
 * around the media); JSON.parse accepts thousands, and a value that deep makes recursive code
 * (String() of a nested array, JSON.stringify) overflow the stack: a 500 for what is a bad request.
 */
export const MAX_JSON_DEPTH = 32;

/** Refuses (400) a parsed JSON body nested deeper than `maxDepth`; mount it after express.json(). */
export function limitJsonDepth(maxDepth = MAX_JSON_DEPTH): RequestHandler {
  return (req, _res, next) => {
    if (depthExceeds(req.body, maxDepth)) {
      throw new InvalidRequestError([`body: nested deeper than ${maxDepth} levels`]);
    }
    next();
  };
}

/** Whether `value` nests arrays or objects more than `maxDepth` deep; iterative, so any depth is safe. */
function depthExceeds(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}
