import type { Queue } from 'bullmq';
import type { WebhookEvent } from '@wamedia/shared';
import { WEBHOOK_BACKOFF, WEBHOOK_JOB, type WebhookJobData } from '@wamedia/shared';

/**
 * Hands webhooks to the delivery queue; the workers POST them, signed, with retries. An event
 * sent with an id is queued once however often it is sent, and its delivery id is that id.
 */
export class WebhookOutbox {
  constructor(
    private readonly queue: Queue<WebhookJobData>,
    private readonly options: { attempts: number; retentionSeconds: number },
  ) {}

  /** @param eventId names the event for good (BullMQ job id rules: no ':'); without it every send is a new event. */
  async send(url: string, event: WebhookEvent, eventId?: string): Promise<void> {
    await this.queue.add(WEBHOOK_JOB, { url, event }, {
      ...(eventId !== undefined && { jobId: eventId }),
      attempts: this.options.attempts,
      backoff: { type: WEBHOOK_BACKOFF },
      removeOnComplete: { age: this.options.retentionSeconds },
      removeOnFail: { age: this.options.retentionSeconds },
    });
  }
}
