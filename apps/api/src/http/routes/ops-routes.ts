import { Router } from 'express';
import { assertReady, type DependencyCheck } from '@wamedia/server';
import type { ApiMetrics } from '../../services/api-metrics.js';

/** Liveness, readiness and metrics: what load balancers, orchestrators and Prometheus ask. */
export function opsRoutes(options: { checks: readonly DependencyCheck[]; metrics: ApiMetrics }): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    await assertReady(options.checks);
    res.json({ status: 'ready' });
  });

  router.get('/metrics', async (_req, res) => {
    res.type(options.metrics.registry.contentType).send(await options.metrics.render());
  });

  return router;
}
