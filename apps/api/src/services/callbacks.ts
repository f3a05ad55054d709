import { type CallbackPolicy, type JobFollowers } from '@wamedia/server';
import { InvalidRequestError } from '@wamedia/shared';

/** Callback URLs of batches and of single requests answered 202: checked, then followed. */
export class Callbacks {
  constructor(
    private readonly followers: JobFollowers,
    private readonly policy: CallbackPolicy,
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
}
