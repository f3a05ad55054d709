import express from 'express';
import { pinoHttp } from 'pino-http';
import type { BlobStore, Logger } from '@wamedia/shared';
import { errorHandler, routeNotFound } from './error-handler.js';
import type { MediaService } from './media-service.js';
import { mediaRoutes } from './routes/media-routes.js';

export interface AppOptions {
  logger: Logger;
  service: MediaService;
  store: BlobStore;
  jwtSecret: string;
  maxWaitMs: number;
}

/** The express application, without listening: main.ts and tests decide where it runs. */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(pinoHttp({ logger: options.logger, genReqId: requestId }));
  app.use(express.json({ limit: '64kb' }));
  app.use(mediaRoutes(options));
  app.use(routeNotFound);
  app.use(errorHandler);
  return app;
}

/** Keeps a caller's X-Request-Id when it is sane, so logs can follow a request across systems. */
function requestId(req: express.Request, res: express.Response): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : crypto.randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}
