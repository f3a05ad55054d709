import { type CallbackPolicy, type JobFollowers, type Subscription } from '@wamedia/server';
import { InvalidRequestError } from '@wamedia/shared';
import type { ReuploadService } from './reupload-service.js';

/** Callback URLs of batches and of single requests answered 202: checked, then followed. */
export class Callbacks {
  constructor(
    private readonly followers: JobFollowers,
    private readonly policy: CallbackPolicy,
    /** Re-upload rounds: a follower that arrives while its job waits is told at once. */
    private readonly reuploads: ReuploadService,
  ) {}

  /** @throws a 400 when webhooks are off or the URL's host is not allowed. */
  check(callbackUrl: string): void {
    if (!this.followers.outbox) {
      throw new InvalidRequestError(['callbackUrl: webhooks are off on this server (WEBHOOK_SECRET is not set)']);
    }
    this.policy.assertAllowedUrl(new URL(callbackUrl));
  }

  /** POSTs `job.finished` to `callbackUrl` once the job ends (at once if it already has). */
  async followJob(jobId: string, callbackUrl: string, instanceId: string): Promise<void> {
    const subscription = { kind: 'callback', url: callbackUrl, instanceId } as const;
    const ended = await this.followers.subscriptions.subscribe(jobId, subscription);
    if (ended) await this.followers.notifier.notify(subscription, jobId, ended);
  }

  /** POSTs `media.reupload_requested` to `callbackUrl` when the job waits for a re-upload (at once if it already does). */
  async followReuploads(jobId: string, callbackUrl: string, instanceId: string): Promise<void> {
    const subscription = { kind: 'reupload', url: callbackUrl, instanceId } as const;
    if (await this.followers.subscriptions.subscribe(jobId, subscription)) return;
    await this.tellIfWaiting(subscription, jobId);
  }

  /**
   * Tells a follower that has just subscribed when its job already waits for a re-upload. Read after
   * subscribing: a worker opening the round meanwhile finds the follower, this finds the round, or
   * both (a webhook may come twice; receivers drop duplicates by jobId).
   */
  async tellIfWaiting(follower: Subscription, jobId: string): Promise<void> {
    const request = await this.reuploads.requestOf(jobId);
    if (request) await this.followers.reuploads.tell(follower, jobId, request);
  }
}
