import { once } from 'node:events';
import { createServer, STATUS_CODES, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertReady, type DependencyCheck } from '@wamedia/server';
import { WamediaError } from '@wamedia/shared';
import type { WorkerMetrics } from './worker-metrics.js';

/**
 * A worker's small internal HTTP server: /healthz (alive), /readyz (Redis and the store
 * answer, else 503) and /metrics. Plain node:http: three fixed routes need no framework.
 */
export class HealthServer {
  private readonly server: Server;

  constructor(
    private readonly checks: readonly DependencyCheck[],
    private readonly metrics: WorkerMetrics,
  ) {
    this.server = createServer((req, res) => {
      void this.answer(req.method ?? 'GET', (req.url ?? '/').split('?')[0]!).then(({ status, type, body }) => {
        res.writeHead(status, { 'Content-Type': type }).end(body);
      });
    });
  }

  /** Listens on `port` (0 picks one); resolves with the bound port. */
  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async answer(method: string, path: string): Promise<{ status: number; type: string; body: string }> {
    if (method !== 'GET') return errorAnswer(405, [`Cannot ${method} ${path}`]);
    if (path === '/healthz') return jsonAnswer(200, { status: 'ok' });
    if (path === '/metrics') return { status: 200, type: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
    if (path !== '/readyz') return errorAnswer(404, [`Cannot GET ${path}`]);
    try {
      await assertReady(this.checks);
      return jsonAnswer(200, { status: 'ready' });
    } catch (error) {
      if (!(error instanceof WamediaError)) throw error;
      return errorAnswer(error.status, error.messages);
    }
  }
}

function jsonAnswer(status: number, body: object) {
  return { status, type: 'application/json', body: JSON.stringify(body) };
}

function errorAnswer(status: number, message: string[]) {
  return jsonAnswer(status, { message, error: STATUS_CODES[status], statusCode: status });
}
