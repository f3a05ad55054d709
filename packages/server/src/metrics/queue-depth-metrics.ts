import type { Queue } from 'bullmq';
import { Gauge, Registry } from 'prom-client';

/** Jobs of a queue by state: every state in which a job still awaits something. */
export const QUEUE_JOBS_METRIC = 'wamedia_queue_jobs';

/**
 * The work a queue asks of its workers right now: waiting + prioritized + active. What an
 * autoscaler should follow (docs/scaling.md): delayed jobs wait for a time, not for a worker, and
 * a job waiting for its children cannot be taken by any worker.
 */
export const QUEUE_DEMAND_METRIC = 'wamedia_queue_demand';

/**
 * The states of {@link QUEUE_JOBS_METRIC}, as BullMQ's getJobCounts names them. `waiting` is only
 * the list of jobs without a priority: BullMQ keeps prioritized jobs (wamedia's batch jobs) in a
 * sorted set of their own, so the wait list alone misses them. (BullMQ 6 has no paused list: a
 * paused queue keeps its jobs where they are.)
 */
export const AWAITING_JOB_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'waiting-children'] as const;

/** The states summed into {@link QUEUE_DEMAND_METRIC}. */
export const DEMAND_JOB_STATES = ['waiting', 'prioritized', 'active'] as const;

export type AwaitingJobState = (typeof AWAITING_JOB_STATES)[number];

/**
 * The queues' depth as Prometheus gauges, read from Redis when rendered (one getJobCounts script
 * per queue per scrape; nothing per request). A registry of its own, apart from the metrics the
 * API processes sum: the queue is one whatever the number of processes, so the process answering
 * the scrape reads it once, and it must not be counted once per process.
 */
export class QueueDepthMetrics {
  readonly registry = new Registry();

  private readonly jobs = new Gauge({
    name: QUEUE_JOBS_METRIC,
    help: 'Jobs of the queue by state, for every state in which a job still awaits something',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  });

  private readonly demand = new Gauge({
    name: QUEUE_DEMAND_METRIC,
    help: 'Jobs the queue asks of its workers now: waiting + prioritized + active (what autoscalers follow)',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  constructor(private readonly queues: readonly Queue[]) {}

  /**
   * The exposition text of both gauges, read now. Rejects when Redis does not answer: no series
   * then, rather than figures of an earlier scrape that an autoscaler would take for the present.
   */
  async render(): Promise<string> {
    const counts = await Promise.all(this.queues.map((queue) => queue.getJobCounts(...AWAITING_JOB_STATES)));
    this.queues.forEach((queue, i) => {
      const byState = counts[i]!;
      for (const state of AWAITING_JOB_STATES) this.jobs.set({ queue: queue.name, state }, byState[state] ?? 0);
      this.demand.set({ queue: queue.name }, DEMAND_JOB_STATES.reduce((sum, state) => sum + (byState[state] ?? 0), 0));
    });
    return this.registry.metrics();
  }
}
