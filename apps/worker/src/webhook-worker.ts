import { UnrecoverableError, type ConnectionOptions, type Job } from 'bullmq';
import { type Logger } from '@wamedia/server';
import { CallbackNotAllowedError, WEBHOOK_QUEUE, webhookJobSchema, type WebhookJobData } from '@wamedia/shared';
import { QueueWorker } from './queue-worker.js';
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
 * which this worker implements (see retryDelay). Rejections (3xx, 4xx but 408/429)
 * and refused URLs are final and burn no attempts; the rest is retried until attempts run out.
 * Deliveries still running past the shutdown grace are handed back (see {@link QueueWorker.stop}):
 * the receiver may then get that event twice, deliveries are at least once and
 * X-Wamedia-Delivery tells repeats apart. The sender is the caller's to close, after stop.
 */
export class WebhookWorker extends QueueWorker<WebhookJobData, WebhookDelivery> {
  constructor(
    private readonly sender: WebhookSender,
    private readonly options: WebhookWorkerOptions,
  ) {
    super(WEBHOOK_QUEUE, {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
      backoff: { baseMs: options.backoffMs ?? DEFAULT_BACKOFF_MS, maxMs: options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS },
      jobsName: 'webhook deliveries',
      logger: options.logger,
    });
  }

  protected override async process(job: WebhookJob, signal?: AbortSignal): Promise<WebhookDelivery> {
    const parsed = webhookJobSchema.safeParse(job.data);
    if (!parsed.success) throw new InvalidWebhookJobError(parsed.error.issues.length);
    const { url, event } = parsed.data;
    const delivery = await this.sender.send(url, event, { deliveryId: job.id, signal });
    this.options.metrics.webhookEnded('delivered');
    this.jobLog(job).debug({ status: delivery.status }, 'webhook delivered');
    return delivery;
  }

  protected override failed(job: WebhookJob, error: unknown): Error {
    const { logger, metrics } = this.options;
    if (error instanceof InvalidWebhookJobError) {
      metrics.webhookEnded('failed');
      logger.error({ jobId: job.id, issues: error.issues }, 'webhook job has an invalid payload; dropped');
      return new UnrecoverableError('invalid webhook job payload');
    }
    const log = this.jobLog(job);
    const message = error instanceof Error ? error.message : String(error);
    if (!(error instanceof WebhookUnavailableError)) {
      metrics.webhookEnded(error instanceof CallbackNotAllowedError ? 'refused' : 'failed');
      log.warn({ reason: message }, 'webhook not delivered (final)');
      return new UnrecoverableError(message);
    }
    const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    metrics.webhookEnded(last ? 'failed' : 'retried');
    log.warn({ reason: message, status: error.status }, last ? 'webhook not delivered (attempts exhausted)' : 'webhook attempt failed; will retry');
    return error;
  }

  protected override handedBack(): void {
    this.options.metrics.webhookEnded('handed_back');
  }

  /** The job's logger; only for a job whose payload is valid. */
  private jobLog(job: WebhookJob): Logger {
    const { url, event } = job.data;
    return this.options.logger.child({ jobId: job.id, event: event.type, target: redactUrl(url), attempt: job.attemptsMade + 1 });
  }
}

/** A job whose payload is not a webhook job: dropped at once, as no attempt can fix it. */
class InvalidWebhookJobError extends Error {
  constructor(readonly issues: number) {
    super('invalid webhook job payload');
    this.name = 'InvalidWebhookJobError';
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
