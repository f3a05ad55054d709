import { timingSafeEqual } from 'node:crypto';
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
  const router = Router();
  const dashboard = loadedOnFirstUse(async () => (await import('./queue-dashboard.js')).queueDashboard(options.queue, BASE_PATH));
  router.use(BASE_PATH, requireAdminToken(options.adminToken, 'the queue dashboard'), dashboard);
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

/**
 * Bull Board brings a UI bundle and its template engine, tens of MiB of heap in every API process
 * (measured with a heap snapshot); most never serve the dashboard, so it is imported when first asked for.
 */
function loadedOnFirstUse(load: () => Promise<RequestHandler>): RequestHandler {
  let loading: Promise<RequestHandler> | undefined;
  return (req, res, next) => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    loading.then((handler) => handler(req, res, next), next);
  };
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
