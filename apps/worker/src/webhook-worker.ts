import { closeWorker } from './close-worker.js';
import { UnrecoverableError, WaitingError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { type Logger } from '@wamedia/server';
import { CallbackNotAllowedError, WEBHOOK_QUEUE, webhookJobSchema, type WebhookJobData } from '@wamedia/shared';
import { retryDelay } from './retry-delay.js';
import { WebhookUnavailableError, type WebhookDelivery, type WebhookSender } from './webhook-sender.js';
import type { WorkerMetrics } from './worker-metrics.js';

type WebhookJob = Job<WebhookJobData, WebhookDelivery>;

/** Options of {@link WebhookWorker}. */
export interface WebhookWorkerOptions {
  connection: ConnectionOptions;
  /** Redis key prefix shared with the producers (REDIS_PREFIX). */
  prefix: string;
  /** Deliveries at once per process. Default: 4, each one waits on a receiver at most WEBHOOK_TIMEOUT_MS. */
  concurrency?: number;
  /** First retry delay, in ms; doubles on each attempt. Default: 1000. */
  backoffMs?: number;
  /** Longest retry delay, in ms, Retry-After included. Default: 300000 (5 minutes). */
  maxBackoffMs?: number;
  logger: Logger;
  metrics: WorkerMetrics;
}

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_BACKOFF_MS = 1_000;
const DEFAULT_MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Delivers the webhooks of the WEBHOOK_QUEUE with a {@link WebhookSender}. Each job is one event
 * for one URL; the producers set its attempts (WEBHOOK_ATTEMPTS) and the WEBHOOK_BACKOFF type,
 * which this worker implements (see {@link retryDelay}). Rejections (3xx, 4xx but 408/429)
 * and refused URLs are final and burn no attempts; the rest is retried until attempts run out.
 */
export class WebhookWorker {
  private readonly worker: Worker<WebhookJobData, WebhookDelivery>;
  private stopping = false;

  constructor(
    private readonly sender: WebhookSender,
    private readonly options: WebhookWorkerOptions,
  ) {
    const baseMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
    const maxMs = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    this.worker = new Worker(WEBHOOK_QUEUE, (job, token, signal) => this.run(job, token, signal), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
      settings: { backoffStrategy: (attemptsMade, _type, error) => retryDelay(attemptsMade, error, { baseMs, maxMs }) },
    });
    this.worker.on('error', (err) => options.logger.warn({ err }, 'webhook worker connection error'));
  }

  /** Resolves once the worker is connected and taking jobs. */
  async ready(): Promise<void> {
    await this.worker.waitUntilReady();
  }

  /**
   * Stops taking jobs and lets deliveries in flight finish for up to `graceMs`; those still
   * running then are aborted and handed back to the queue (the receiver may then get that event
   * twice: deliveries are at least once, X-Wamedia-Delivery tells repeats apart). The sender is
   * the caller's to close, after this.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await closeWorker(this.worker, graceMs, this.options.logger, 'webhook deliveries');
  }

  private async run(job: WebhookJob, token: string | undefined, signal?: AbortSignal): Promise<WebhookDelivery> {
    const { logger, metrics } = this.options;
    const parsed = webhookJobSchema.safeParse(job.data);
    if (!parsed.success) {
      metrics.webhookEnded('failed');
      logger.error({ jobId: job.id, issues: parsed.error.issues.length }, 'webhook job has an invalid payload; dropped');
      throw new UnrecoverableError('invalid webhook job payload');
    }
    const { url, event } = parsed.data;
    const log = logger.child({ jobId: job.id, event: event.type, target: redactUrl(url), attempt: job.attemptsMade + 1 });
    try {
      const delivery = await this.sender.send(url, event, { deliveryId: job.id, signal });
      metrics.webhookEnded('delivered');
      log.debug({ status: delivery.status }, 'webhook delivered');
      return delivery;
    } catch (error) {
      if (this.stopping && signal?.aborted) {
        await job.moveToWait(token);
        metrics.webhookEnded('handed_back');
        throw new WaitingError();
      }
      const message = error instanceof Error ? error.message : String(error);
      if (!(error instanceof WebhookUnavailableError)) {
        metrics.webhookEnded(error instanceof CallbackNotAllowedError ? 'refused' : 'failed');
        log.warn({ reason: message }, 'webhook not delivered (final)');
        throw new UnrecoverableError(message);
      }
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      metrics.webhookEnded(last ? 'failed' : 'retried');
      log.warn({ reason: message, status: error.status }, last ? 'webhook not delivered (attempts exhausted)' : 'webhook attempt failed; will retry');
      throw error;
    }
  }
}

/** Origin and path, for logs: the query often carries the receiver's token. Never throws. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.origin + parsed.pathname;
  } catch {
    return '(unparsable URL)';
  }
}
