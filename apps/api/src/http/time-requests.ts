import type { RequestHandler } from 'express';
import type { ApiMetrics } from '../services/api-metrics.js';

/** Times every request in `metrics`, until its last byte is written (or the client goes away). */
export function timeRequests(metrics: ApiMetrics): RequestHandler {
  return (req, res, next) => {
    const stop = metrics.timeRequest(req.method);
    res.once('close', () => {
      // The route's pattern, known once routing is done; ids would explode the label set.
      const route = req.route ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      stop(route, res.statusCode);
    });
    next();
  };
}
