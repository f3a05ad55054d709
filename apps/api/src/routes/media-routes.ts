import { Router, type Request, type Response } from 'express';
import {
  InvalidRequestError,
  describeIssues,
  downloadRequestSchema,
  timeoutQuerySchema,
  type BlobStore,
} from '@wamedia/shared';
import { requireInstanceToken } from '../auth.js';
import type { DownloadOutcome, MediaService } from '../media-service.js';
import { sendMedia } from '../send-media.js';

export interface MediaRoutesOptions {
  service: MediaService;
  store: BlobStore;
  jwtSecret: string;
  /** Upper bound of the `timeout` query, in ms; also its default when below 600000. */
  maxWaitMs: number;
}

/**
 * The media routes under /api/v2/instance/:instanceId/media. Handlers only translate between
 * HTTP and the MediaService.
 */
export function mediaRoutes(options: MediaRoutesOptions): Router {
  const { service, store } = options;
  const timeoutSchema = timeoutQuerySchema(options.maxWaitMs);
  const router = Router({ mergeParams: true });
  router.use('/api/v2/instance/:instanceId', requireInstanceToken(options.jwtSecret));

  router.post('/api/v2/instance/:instanceId/media/directly-download', async (req, res) => {
    const timeoutMs = parseTimeout(req.query.timeout, timeoutSchema);
    const request = parseBody(req.body);
    const signal = abortOnClose(res);
    const outcome = await service.download(instance(res), request, { timeoutMs, signal, requestId: String(req.id) });
    await answer(req, res, outcome);
  });

  router.get('/api/v2/instance/:instanceId/media/jobs/:jobId', async (req, res) => {
    res.json(await service.jobStatus(instance(res), req.params.jobId));
  });

  router.get('/api/v2/instance/:instanceId/media/jobs/:jobId/content', async (req, res) => {
    await answer(req, res, await service.jobContent(instance(res), req.params.jobId));
  });

  async function answer(req: Request, res: Response, outcome: DownloadOutcome): Promise<void> {
    if (res.destroyed) return;
    if (outcome.kind === 'ready') return sendMedia(req, res, store, outcome.media);
    const base = `/api/v2/instance/${encodeURIComponent(instance(res))}/media/jobs/${outcome.jobId}`;
    res.status(202).json({ jobId: outcome.jobId, status: outcome.status, statusUrl: base, contentUrl: `${base}/content` });
  }

  return router;
}

function instance(res: Response): string {
  return res.locals.instanceId as string;
}

function parseBody(body: unknown) {
  const parsed = downloadRequestSchema.safeParse(body);
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error));
  return parsed.data;
}

function parseTimeout(value: unknown, schema: ReturnType<typeof timeoutQuerySchema>): number {
  const parsed = schema.safeParse(value === '' ? undefined : value);
  if (!parsed.success) throw new InvalidRequestError(parsed.error.issues.map((issue) => issue.message));
  return parsed.data;
}

/** A signal aborted when the client disconnects before the answer is complete. */
function abortOnClose(res: Response): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}
