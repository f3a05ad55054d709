import { Router } from 'express';
import { InvalidRequestError, batchPageQuerySchema, describeIssues } from '@wamedia/shared';
import type { BatchService } from '../../services/batch-service.js';
import { instanceOf } from '../require-instance-token.js';
import { answerDownload } from './answer-download.js';

/**
 * The batch routes under /api/v2/instance/:instanceId/media/batch (the token is checked before
 * them, in app.ts). Handlers only translate between HTTP and the BatchService.
 */
export function batchRoutes(options: { batches: BatchService }): Router {
  const { batches } = options;
  const router = Router();
  const base = '/api/v2/instance/:instanceId/media/batch';

  router.post(base, async (req, res) => {
    res.status(202).json(await batches.submit(instanceOf(res), req.body, String(req.id)));
  });

  router.get(`${base}/:batchId`, async (req, res) => {
    const page = batchPageQuerySchema.safeParse(req.query);
    if (!page.success) throw new InvalidRequestError(describeIssues(page.error));
    res.json(await batches.status(instanceOf(res), req.params.batchId, page.data));
  });

  router.get(`${base}/:batchId/items/:itemId/content`, async (req, res) => {
    const outcome = await batches.itemContent(instanceOf(res), req.params.batchId, req.params.itemId);
    await answerDownload(req, res, outcome);
  });

  return router;
}
