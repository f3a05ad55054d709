import { Router } from 'express';
import { instanceWebhookSecret } from '@wamedia/shared';
import { instanceOf } from '../require-instance-token.js';

/**
 * GET /api/v2/instance/:instanceId/webhook-secret: the secret the instance's webhooks are signed
 * with, derived from WEBHOOK_SECRET for this instance only (the token is checked before, in app.ts).
 */
export function webhookRoutes(options: { webhookSecret: string }): Router {
  const router = Router();
  router.get('/api/v2/instance/:instanceId/webhook-secret', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ secret: instanceWebhookSecret(options.webhookSecret, instanceOf(res)) });
  });
  return router;
}
