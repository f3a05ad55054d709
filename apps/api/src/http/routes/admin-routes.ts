import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router, type Request, type RequestHandler } from 'express';
import { type TokenVersions } from '@wamedia/server';
import { UnauthorizedError } from '@wamedia/shared';

const BASE_PATH = '/admin/queues';

/**
 * The admin routes, behind ADMIN_TOKEN: as a bearer token (scripts) or as the password of HTTP
 * Basic auth (browsers prompt for it).
 * - Bull Board at /admin/queues;
 * - `POST /admin/instances/:instanceId/revoke-tokens`: bumps the instance's token version, so
 *   every token of it minted so far is refused; answers `{instanceId, tokenVersion}`.
 */
export function adminRoutes(options: { queue: Queue; adminToken: string; tokenVersions: Pick<TokenVersions, 'revoke'> }): Router {
  const board = new ExpressAdapter();
  board.setBasePath(BASE_PATH);
  createBullBoard({ queues: [new BullMQAdapter(options.queue)], serverAdapter: board });
  const router = Router();
  router.use(BASE_PATH, requireAdminToken(options.adminToken, 'the queue dashboard'), board.getRouter());
  router.post(
    '/admin/instances/:instanceId/revoke-tokens',
    requireAdminToken(options.adminToken, 'revoking tokens'),
    async (req: Request<{ instanceId: string }>, res) => {
      const { instanceId } = req.params;
      const tokenVersion = await options.tokenVersions.revoke(instanceId);
      req.log.info({ instanceId, tokenVersion }, 'tokens revoked');
      res.json({ instanceId, tokenVersion });
    },
  );
  return router;
}

function requireAdminToken(token: string, what: string): RequestHandler {
  const expected = Buffer.from(token);
  return (req, res, next) => {
    const given = Buffer.from(presentedToken(req.get('authorization')) ?? '');
    // Constant time, so the token can't be guessed byte by byte from response times.
    if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
    res.set('WWW-Authenticate', 'Basic realm="wamedia admin", charset="UTF-8"');
    throw new UnauthorizedError(`${what} needs ADMIN_TOKEN (bearer token or Basic auth password)`);
  };
}

function presentedToken(header: string | undefined): string | undefined {
  const [scheme, value] = (header ?? '').split(/\s+/, 2);
  if (!value) return undefined;
  if (/^bearer$/i.test(scheme!)) return value;
  if (/^basic$/i.test(scheme!)) return Buffer.from(value, 'base64').toString().split(':').slice(1).join(':');
  return undefined;
}
