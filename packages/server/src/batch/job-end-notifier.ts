import { batchItemContentPath, type BatchItem } from '@wamedia/shared';
import type { BatchMeta, BatchStore, StoredItem } from './batch-store.js';
import type { JobEnd, JobSubscriptions, Subscription } from './job-subscriptions.js';
import type { WebhookOutbox } from './webhook-outbox.js';

/**
 * Tells a job's followers that it ended: batch items are updated (and the batch, when it was
 * the last one, is done), and callback URLs get their webhooks. Used by the worker that ended
 * the job, and by the API for followers that arrived after the end.
 */
export class JobEndNotifier {
  constructor(
    private readonly deps: {
      subscriptions: JobSubscriptions;
      batches: BatchStore;
      /** Undefined when webhooks are off (no WEBHOOK_SECRET). */
      outbox: WebhookOutbox | undefined;
    },
  ) {}

  /** A job ended: marks it and notifies everyone who followed it. */
  async jobEnded(jobId: string, end: JobEnd): Promise<void> {
    const followers = await this.deps.subscriptions.jobEnded(jobId, end);
    for (const follower of followers) await this.notify(follower, jobId, end);
  }

  /** Notifies one follower of a job's end. */
  async notify(follower: Subscription, jobId: string, end: JobEnd): Promise<void> {
    // Told of re-upload requests only; the request's job.finished follower is another subscription.
    if (follower.kind === 'reupload') return;
    if (follower.kind === 'callback') {
      const outcome = end.status === 'completed' ? { status: end.status, result: end.result } : { status: end.status, error: end.error };
      await this.deps.outbox?.send(follower.url, { type: 'job.finished', jobId, instanceId: follower.instanceId, ...outcome });
      return;
    }
    const finished = await this.deps.batches.finishItem(follower.batchId, follower.index, end);
    if (!finished) return;
    await this.itemFinished(finished.meta, finished.item);
    if (finished.batchDone) await this.batchDone(finished.meta, finished.counts);
  }

  /** The webhook of one finished item, when its batch has a callback URL. */
  async itemFinished(meta: BatchMeta, item: StoredItem): Promise<void> {
    if (!meta.callbackUrl) return;
    await this.deps.outbox?.send(meta.callbackUrl, {
      type: 'batch.item',
      batchId: meta.batchId,
      instanceId: meta.instanceId,
      item: presentItem(meta, item),
    });
  }

  /** The webhook of a batch with no pending item left. */
  async batchDone(meta: BatchMeta, counts: Awaited<ReturnType<BatchStore['counts']>>): Promise<void> {
    if (!meta.callbackUrl) return;
    await this.deps.outbox?.send(meta.callbackUrl, { type: 'batch.done', batchId: meta.batchId, instanceId: meta.instanceId, counts });
  }
}

/** An item as clients see it: with the URL of its content once it has some. */
export function presentItem(meta: BatchMeta, { errorCode: _internal, ...item }: StoredItem): BatchItem {
  if (item.status !== 'completed') return item;
  return { ...item, contentUrl: batchItemContentPath(meta.instanceId, meta.batchId, item.id) };
}
