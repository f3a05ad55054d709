import { Router } from 'express';
import { InvalidRequestError, batchLinksQuerySchema, batchPageQuerySchema, describeIssues } from '@wamedia/shared';
import type { BatchService } from '../../services/batch-service.js';
import type { MediaDelivery } from '../media-delivery.js';
import { instanceOf } from '../require-instance-token.js';
import { answerDownload } from './answer-download.js';

/**
 * The batch routes under /api/v2/instance/:instanceId/media/batch (the token is checked before
 * them, in app.ts). Handlers only translate between HTTP and the BatchService.
 */
export function batchRoutes(options: { batches: BatchService; delivery: MediaDelivery }): Router {
  const { batches, delivery } = options;
  const linksSchema = batchLinksQuerySchema(delivery.maxTtlSeconds);
  const router = Router();
  const base = '/api/v2/instance/:instanceId/media/batch';

  router.post(base, async (req, res) => {
    const context = { requestId: String(req.id), linkOrigin: delivery.origin(req) };
    res.status(202).json(await batches.submit(instanceOf(res), req.body, context));
  });

  router.get(`${base}/:batchId`, async (req, res) => {
    const page = batchPageQuerySchema.safeParse(req.query);
    const links = linksSchema.safeParse({ links: req.query.links, ttl: req.query.ttl });
    if (!page.success || !links.success) {
      throw new InvalidRequestError([page.error, links.error].flatMap((error) => (error ? describeIssues(error) : [])));
    }
    const linkOptions = links.data.links ? delivery.linkOptions(req, links.data.ttl) : undefined;
    res.json(await batches.status(instanceOf(res), req.params.batchId, page.data, linkOptions));
  });

  router.get(`${base}/:batchId/items/:itemId/content`, async (req, res) => {
    const query = delivery.parse(req);
    const outcome = await batches.itemContent(instanceOf(res), req.params.batchId, req.params.itemId);
    await answerDownload(req, res, outcome, delivery, query);
  });

  return router;
}
