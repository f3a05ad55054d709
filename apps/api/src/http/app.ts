import type { IncomingMessage } from 'node:http';
import type { Queue } from 'bullmq';
import express from 'express';
import type { DependencyCheck, Logger, TokenVersions } from '@wamedia/server';
import type { ApiMetrics } from '../services/api-metrics.js';
import type { BatchService } from '../services/batch-service.js';
import type { LinkedFiles } from '../services/linked-files.js';
import type { MediaService } from '../services/media-service.js';
import type { RequestRateLimiter } from '../services/request-rate-limiter.js';
import type { ReuploadService } from '../services/reupload-service.js';
import type { TokenVerifier } from '../services/token-verifier.js';
import { errorHandler, routeNotFound } from './error-handler.js';
import { limitJsonDepth } from './limit-json-depth.js';
import { limitRequestRate } from './limit-request-rate.js';
import { logRequests } from './log-requests.js';
import type { MediaDelivery } from './media-delivery.js';
import { requireHostHeader } from './protocol-errors.js';
import { requireInstanceToken } from './require-instance-token.js';
import { adminRoutes } from './routes/admin-routes.js';
import { batchRoutes } from './routes/batch-routes.js';
import { docsRoutes } from './routes/docs-routes.js';
import { fileLinkRoutes } from './routes/file-link-routes.js';
import { mediaRoutes } from './routes/media-routes.js';
import { opsRoutes } from './routes/ops-routes.js';
import { webhookRoutes } from './routes/webhook-routes.js';
import { timeRequests } from './time-requests.js';

/** What {@link createApp} is built from: main.ts composes the services and hands them here. */
export interface AppOptions {
  logger: Logger;
  service: MediaService;
  batches: BatchService;
  /** Answers of the phone to re-upload requests. */
  reuploads: ReuploadService;
  /** Answers ready media as the `response` query asks (file, url, base64). */
  delivery: MediaDelivery;
  /** The files behind the links the API signs, served at /media/files without a token. */
  linkedFiles: LinkedFiles;
  queue: Queue;
  metrics: ApiMetrics;
  /** What /readyz asks. */
  checks: readonly DependencyCheck[];
  /** Served at /openapi.json. */
  openApiDocument: object;
  /** Checks the bearer token of every instance route. */
  tokens: TokenVerifier;
  /** Each instance's token version: bumped by the admin route (`tokens` checks it). */
  tokenVersions: Pick<TokenVersions, 'revoke'>;
  /** Upper bound of the `timeout` query, in ms. */
  maxWaitMs: number;
  /** INSTANCE_REQUESTS_PER_MINUTE, counted on every instance route once the token is checked. */
  requestRate: RequestRateLimiter;
  /** The queue dashboard's token; no dashboard when undefined. */
  adminToken: string | undefined;
  /** WEBHOOK_SECRET; no webhook-secret route when undefined. */
  webhookSecret: string | undefined;
}

/** The express application, without listening: main.ts and tests decide where it runs. */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(logRequests(options.logger, isProbe));
  app.use(timeRequests(options.metrics));
  app.use(requireHostHeader);
  app.use(opsRoutes(options));
  app.use(docsRoutes(options.openApiDocument));
  app.use(fileLinkRoutes(options));
  if (options.adminToken) {
    app.use(adminRoutes({ queue: options.queue, adminToken: options.adminToken, tokenVersions: options.tokenVersions }));
  }
  app.use('/api/v2/instance/:instanceId', requireInstanceToken(options.tokens));
  app.use('/api/v2/instance/:instanceId', limitRequestRate(options.requestRate));
  // Parsed only once the token and the rate passed: nobody without a token makes the API read
  // (and hold) 4 MB. A batch of 1000 references is about 1 MB of JSON; one reference about 1 KB.
  app.use(express.json({ limit: '4mb' }), limitJsonDepth());
  if (options.webhookSecret) app.use(webhookRoutes({ webhookSecret: options.webhookSecret }));
  app.use(mediaRoutes(options));
  app.use(batchRoutes(options));
  app.use(routeNotFound);
  app.use(errorHandler);
  return app;
}

/** Health probes and scrapes every few seconds would drown the request log. */
function isProbe(req: IncomingMessage): boolean {
  return req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics';
}
