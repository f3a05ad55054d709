import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * `lock_lost`: the attempt was dropped because its worker no longer held the job's lock (cut off
 * from Redis for longer than JOB_LOCK_MS); another worker ends the job.
 */
const JOB_OUTCOMES = ['completed', 'cached', 'failed', 'retried', 'handed_back', 'awaiting_reupload', 'lock_lost'] as const;

/** How a job attempt ended, as counted in wamedia_jobs_total. */
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

const WEBHOOK_OUTCOMES = ['delivered', 'retried', 'failed', 'refused', 'handed_back'] as const;

/**
 * How a webhook delivery attempt ended, as counted in wamedia_webhooks_total: `failed` is final
 * (rejected by the receiver, or attempts exhausted), `refused` is a URL or address the policy refused.
 */
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

/** A worker's Prometheus metrics: jobs by outcome, bytes downloaded, and how long the work took. */
export class WorkerMetrics {
  readonly registry = new Registry();

  private readonly jobs = new Counter({
    name: 'wamedia_jobs_total',
    help: 'Download job attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly downloadedBytes = new Counter({
    name: 'wamedia_downloaded_bytes_total',
    help: 'Encrypted bytes downloaded from the CDN, verified and stored',
    registers: [this.registry],
  });

  private readonly cdnResponse = new Histogram({
    name: 'wamedia_cdn_response_seconds',
    help: 'Time from the first CDN request to the response headers, redirects and fallbacks included',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private readonly download = new Histogram({
    name: 'wamedia_download_decrypt_seconds',
    help: 'Time of the single streaming pass: download, decrypt, verify and store',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  private readonly webhooks = new Counter({
    name: 'wamedia_webhooks_total',
    help: 'Webhook delivery attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'wamedia_worker_' });
    // Zero series from the start, so dashboards show a rate before the first job.
    for (const outcome of JOB_OUTCOMES) this.jobs.inc({ outcome }, 0);
    for (const outcome of WEBHOOK_OUTCOMES) this.webhooks.inc({ outcome }, 0);
  }

  jobEnded(outcome: JobOutcome): void {
    this.jobs.inc({ outcome });
  }

  webhookEnded(outcome: WebhookOutcome): void {
    this.webhooks.inc({ outcome });
  }

  cdnResponded(seconds: number): void {
    this.cdnResponse.observe(seconds);
  }

  mediaStored(encryptedBytes: number, seconds: number): void {
    this.downloadedBytes.inc(encryptedBytes);
    this.download.observe(seconds);
  }
}
