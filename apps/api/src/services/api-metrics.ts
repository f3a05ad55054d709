import type { Queue } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { QueueDepthMetrics, sharedMetrics } from '@wamedia/server';

/**
 * The API's Prometheus metrics: request durations by route and status, cache hits and
 * misses, the process's own figures, the queues' depth (wamedia_queue_*, what autoscalers read),
 * and the download queue's job counts as BullMQ exports them.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  /** This process's metrics, or every API process's when `pnpm start` runs several. */
  private readonly ours = sharedMetrics(this.registry);

  private readonly requestDuration = new Histogram({
    name: 'wamedia_http_request_duration_seconds',
    help: 'HTTP request duration, until the last byte of the answer was written',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 600],
    registers: [this.registry],
  });

  private readonly cacheLookups = new Counter({
    name: 'wamedia_cache_lookups_total',
    help: 'Media requests answered from the store (hit) or sent to a download job (miss)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Read by the process answering the scrape, after the sum of the processes' metrics. */
  private readonly queueDepth: QueueDepthMetrics;

  /**
   * @param queue whose job counts BullMQ exports (bullmq_job_count).
   * @param depthQueues whose depth is exported as wamedia_queue_jobs and wamedia_queue_demand.
   * @param waitingRequests how many requests wait for a job right now.
   */
  constructor(
    private readonly queue: Queue,
    depthQueues: readonly Queue[],
    waitingRequests: () => number,
  ) {
    this.queueDepth = new QueueDepthMetrics(depthQueues);
    collectDefaultMetrics({ register: this.registry, prefix: 'wamedia_api_' });
    // Zero series from the start, so dashboards show a rate before the first hit.
    for (const result of ['hit', 'miss'] as const) this.cacheLookups.inc({ result }, 0);
    new Gauge({
      name: 'wamedia_waiting_requests',
      help: 'Requests waiting for their download job',
      registers: [this.registry],
      collect() {
        this.set(waitingRequests());
      },
    });
  }

  /**
   * Starts timing a request; the returned function stops it. `route` should be the route's
   * pattern, not the path, so that ids don't explode the label set.
   */
  timeRequest(method: string): (route: string, status: number) => void {
    const stop = this.requestDuration.startTimer({ method });
    return (route, status) => stop({ route, status: String(status) });
  }

  /** Counts a media request answered from the store (hit) or sent to a download job (miss). */
  cacheLookup(hit: boolean): void {
    this.cacheLookups.inc({ result: hit ? 'hit' : 'miss' });
  }

  /**
   * The exposition text: ours (summed over the API processes), then the queues' depth and
   * BullMQ's export, read once from Redis whatever the number of processes. Without Redis the
   * queue series are left out rather than failing the scrape.
   */
  async render(): Promise<string> {
    const [ours, depth, bullmq] = await Promise.all([
      this.ours.render(),
      this.queueDepth.render().catch(() => ''),
      this.queue.exportPrometheusMetrics().catch(() => ''),
    ]);
    return `${ours}\n${depth}${bullmq}`;
  }
}
