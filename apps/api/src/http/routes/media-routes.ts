import { Router, type Response } from 'express';
import type { z } from 'zod';
import { InvalidRequestError, describeIssues, downloadBodySchema, reuploadAnswerSchema, timeoutQuerySchema } from '@wamedia/shared';
import type { MediaService } from '../../services/media-service.js';
import type { ReuploadService } from '../../services/reupload-service.js';
import type { MediaDelivery } from '../media-delivery.js';
import { instanceOf } from '../require-instance-token.js';
import { answerDownload } from './answer-download.js';

export interface MediaRoutesOptions {
  service: MediaService;
  reuploads: ReuploadService;
  /** Answers a ready media as its `response` query asks. */
  delivery: MediaDelivery;
  /** Upper bound of the `timeout` query, in ms; also its default when below 600000. */
  maxWaitMs: number;
}

/**
 * The media routes under /api/v2/instance/:instanceId/media (the token is checked before them,
 * in app.ts). Handlers only translate between HTTP and the MediaService (the ReuploadService for
 * the phone's answers to re-upload requests).
 */
export function mediaRoutes(options: MediaRoutesOptions): Router {
  const { service, reuploads, delivery } = options;
  const timeoutSchema = timeoutQuerySchema(options.maxWaitMs);
  const router = Router({ mergeParams: true });

  router.post('/api/v2/instance/:instanceId/media/directly-download', async (req, res) => {
    const timeoutMs = parseTimeout(req.query.timeout, timeoutSchema);
    const query = delivery.parse(req);
    // A media reference, or a WhatsApp message holding one (see message-schemas.ts).
    const request = parse(downloadBodySchema, req.body);
    const signal = abortOnClose(res);
    const outcome = await service.download(instanceOf(res), request, { timeoutMs, signal, requestId: String(req.id) });
    await answerDownload(req, res, outcome, delivery, query);
  });

  router.get('/api/v2/instance/:instanceId/media/jobs/:jobId', async (req, res) => {
    res.json(await service.jobStatus(instanceOf(res), req.params.jobId));
  });

  router.get('/api/v2/instance/:instanceId/media/jobs/:jobId/content', async (req, res) => {
    const query = delivery.parse(req);
    await answerDownload(req, res, await service.jobContent(instanceOf(res), req.params.jobId), delivery, query);
  });

  router.post('/api/v2/instance/:instanceId/media/jobs/:jobId/reupload', async (req, res) => {
    const answer = parse(reuploadAnswerSchema, req.body);
    res.status(202).json(await reuploads.answer(instanceOf(res), req.params.jobId, answer));
  });

  return router;
}

/** The body as `schema` reads it, or a 400 with one message per problem. */
function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
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
