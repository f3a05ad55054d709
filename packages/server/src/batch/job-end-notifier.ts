import { batchItemContentPath, mediaFileName, type BatchItem } from '@wamedia/shared';
import type { LinkTarget, MediaLinks } from '../links/media-links.js';
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
      /** The links of batches submitted with `"links": true`. */
      links: MediaLinks;
      /** SIGNED_URL_TTL_SECONDS: how long those links hold. */
      linkTtlSeconds: number;
    },
  ) {}

  /**
   * A job ended: marks it and notifies everyone who followed it. A follower is forgotten once
   * told, so a call cut short is completed by the next (see JobSubscriptions).
   */
  async jobEnded(jobId: string, end: JobEnd): Promise<void> {
    const { subscriptions } = this.deps;
    for (const follower of await subscriptions.jobEnded(jobId, end)) {
      await this.notify(follower, jobId, end);
      await subscriptions.notified(jobId, follower);
    }
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
    await this.itemFinished(finished.meta, finished.item, follower.index);
    if (finished.batchDone) await this.batchDone(finished.meta, finished.counts);
  }

  /**
   * The webhook of the item at `index`, finished, when its batch has a callback URL; with its
   * link when the batch asked for links.
   */
  async itemFinished(meta: BatchMeta, item: StoredItem, index: number): Promise<void> {
    if (!meta.callbackUrl) return;
    const presented = presentItem(meta, item);
    const linkOptions = meta.linkOrigin && { ttlSeconds: this.deps.linkTtlSeconds, origin: meta.linkOrigin };
    await this.deps.outbox?.send(meta.callbackUrl, {
      type: 'batch.item',
      batchId: meta.batchId,
      instanceId: meta.instanceId,
      item: linkOptions ? await withLink(presented, this.deps.links, linkOptions) : presented,
    }, `batch-${meta.batchId}-item-${index}`);
  }

  /** The webhook of a batch with no pending item left. */
  async batchDone(meta: BatchMeta, counts: Awaited<ReturnType<BatchStore['counts']>>): Promise<void> {
    if (!meta.callbackUrl) return;
    const event = { type: 'batch.done', batchId: meta.batchId, instanceId: meta.instanceId, counts } as const;
    await this.deps.outbox?.send(meta.callbackUrl, event, `batch-${meta.batchId}-done`);
  }
}

/** An item as clients see it: with the URL of its content once it has some, without what is kept for the server. */
export function presentItem(meta: BatchMeta, { errorCode: _internal, hints: _own, ...item }: StoredItem): BatchItem {
  if (item.status !== 'completed') return item;
  return { ...item, contentUrl: batchItemContentPath(meta.instanceId, meta.batchId, item.id) };
}

/**
 * The stored media of a completed item, as its content route serves it (the item's own type, or
 * a document's name when it has none); undefined for any other item.
 */
export function itemMedia(item: Pick<BatchItem, 'status' | 'contentType' | 'result'>): LinkTarget | undefined {
  if (item.status !== 'completed' || !item.result) return undefined;
  const { sha256, size, mimetype } = item.result;
  return { sha256, size, mimetype, fileName: mediaFileName(item.contentType ?? 'document', sha256, mimetype) };
}

/** `item` with a link to its media when it is completed; other items as they are. */
export async function withLink(
  item: BatchItem,
  links: MediaLinks,
  options: Parameters<MediaLinks['link']>[1],
): Promise<BatchItem> {
  const media = itemMedia(item);
  return media ? { ...item, link: await links.link(media, options) } : item;
}
