import type { Request, Response } from 'express';
import type { DeliveryQuery } from '@wamedia/shared';
import type { DownloadOutcome } from '../../services/media-service.js';
import { MediaDelivery } from '../media-delivery.js';
import { instanceOf } from '../require-instance-token.js';

/**
 * A ready media is answered as `query` asks (the file, a link, base64); a pending one with 202 and
 * the job to follow, whose content URL asks for the same answer.
 */
export async function answerDownload(
  req: Request,
  res: Response,
  outcome: DownloadOutcome,
  delivery: MediaDelivery,
  query: DeliveryQuery,
): Promise<void> {
  if (res.destroyed) return;
  if (outcome.kind === 'ready') return delivery.deliver(req, res, outcome.media, query);
  const base = `/api/v2/instance/${encodeURIComponent(instanceOf(res))}/media/jobs/${outcome.jobId}`;
  const contentUrl = `${base}/content${MediaDelivery.queryString(query)}`;
  res.status(202).json({ jobId: outcome.jobId, status: outcome.status, statusUrl: base, contentUrl });
}
