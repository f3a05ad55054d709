import type { Queue } from 'bullmq';
import type { WebhookEvent } from '@wamedia/shared';
import { WEBHOOK_BACKOFF, WEBHOOK_JOB, type WebhookJobData } from '@wamedia/shared';

/** Hands webhooks to the delivery queue; the workers POST them, signed, with retries. */
export class WebhookOutbox {
  constructor(
    private readonly queue: Queue<WebhookJobData>,
    private readonly options: { attempts: number; retentionSeconds: number },
  ) {}

  async send(url: string, event: WebhookEvent): Promise<void> {
    await this.queue.add(WEBHOOK_JOB, { url, event }, {
      attempts: this.options.attempts,
      backoff: { type: WEBHOOK_BACKOFF },
      removeOnComplete: { age: this.options.retentionSeconds },
      removeOnFail: { age: this.options.retentionSeconds },
    });
  }
}
