import { reuploadPath, type ReuploadRequested } from '@wamedia/shared';
import type { BatchStore } from './batch-store.js';
import type { JobSubscriptions, Subscription } from './job-subscriptions.js';
import type { WebhookOutbox } from './webhook-outbox.js';

/** Where one `media.reupload_requested` webhook goes. */
interface Target {
  url: string;
  instanceId: string;
}

/**
 * Tells a job's followers that it waits for the phone to re-upload its media: each callback URL
 * (a batch's, or a single request's) gets one `media.reupload_requested` webhook with what the
 * caller's WhatsApp session sends to ask for it. The followers stay: the job has not ended.
 */
export class ReuploadNotifier {
  constructor(
    private readonly deps: {
      subscriptions: JobSubscriptions;
      batches: BatchStore;
      /** Undefined when webhooks are off (no WEBHOOK_SECRET). */
      outbox: WebhookOutbox | undefined;
    },
  ) {}

  /** The job started waiting: every follower with a callback URL is told, once per URL and instance. */
  async requested(jobId: string, request: ReuploadRequested): Promise<void> {
    if (!this.deps.outbox) return;
    const targets = new Map<string, Target>();
    for (const follower of await this.deps.subscriptions.followers(jobId)) {
      const target = await this.targetOf(follower);
      if (target) targets.set(JSON.stringify([target.instanceId, target.url]), target);
    }
    for (const target of targets.values()) await this.send(target, jobId, request);
  }

  /** Tells one follower that arrived while the job was already waiting. */
  async tell(follower: Subscription, jobId: string, request: ReuploadRequested): Promise<void> {
    if (!this.deps.outbox) return;
    const target = await this.targetOf(follower);
    if (target) await this.send(target, jobId, request);
  }

  /** A batch item's follower is its batch's callback URL, if it has one; a single request's is its own. */
  private async targetOf(follower: Subscription): Promise<Target | undefined> {
    if (follower.kind !== 'batch') return { url: follower.url, instanceId: follower.instanceId };
    const meta = await this.deps.batches.find(follower.batchId);
    return meta?.callbackUrl ? { url: meta.callbackUrl, instanceId: meta.instanceId } : undefined;
  }

  private async send({ url, instanceId }: Target, jobId: string, request: ReuploadRequested): Promise<void> {
    await this.deps.outbox?.send(url, {
      type: 'media.reupload_requested',
      jobId,
      instanceId,
      messageKey: request.messageKey,
      receipt: request.receipt,
      reuploadUrl: reuploadPath(instanceId, jobId),
      expiresAt: request.expiresAt,
    });
  }
}
