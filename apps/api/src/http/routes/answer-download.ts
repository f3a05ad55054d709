import type { Request, Response } from 'express';
import type { DownloadOutcome } from '../../services/media-service.js';
import { instanceOf } from '../require-instance-token.js';
import { sendMedia } from '../send-media.js';

/** A ready media is streamed; a pending one is answered 202 with the job to follow. */
export async function answerDownload(req: Request, res: Response, outcome: DownloadOutcome): Promise<void> {
  if (res.destroyed) return;
  if (outcome.kind === 'ready') return sendMedia(req, res, outcome.media);
  const base = `/api/v2/instance/${encodeURIComponent(instanceOf(res))}/media/jobs/${outcome.jobId}`;
  res.status(202).json({ jobId: outcome.jobId, status: outcome.status, statusUrl: base, contentUrl: `${base}/content` });
}
