import {
  itemMedia,
  presentItem,
  withLink,
  type BatchMeta,
  type BlobStore,
  type HostAllowList,
  type JobFollowers,
  type JobSecrets,
  type LinkOptions,
  type MediaIndex,
  type MediaLinks,
  type MediaIndexEntry,
  type StoredItem,
} from '@wamedia/server';
import {
  BatchNotFoundError,
  InvalidRequestError,
  JobFailedError,
  WamediaError,
  batchItemBodySchema,
  batchItemIdSchema,
  batchPath,
  batchRequestSchema,
  claimedItemId,
  describeIssues,
  referenceLookupKey,
  toErrorBody,
  type BatchItem,
  type BatchItemRequest,
  type BatchStatus,
  type DownloadJobData,
} from '@wamedia/shared';
import type { Callbacks } from './callbacks.js';
import type { DownloadJobs } from './download-jobs.js';
import { toJobData, type DownloadOutcome } from './media-service.js';
import { storedMedia } from './ready-media.js';
import { fromCache, hintsOf } from './request-hints.js';
import type { ReuploadService } from './reupload-service.js';

/** How many cache lookups run at once for one batch. */
const LOOKUP_CONCURRENCY = 32;

/** Who submits a batch, and from where. */
export interface SubmitContext {
  /** The HTTP request id, passed to the workers for their logs. */
  requestId?: string;
  /** Where clients reach the API: the origin of the links a batch submitted with `"links": true` carries. */
  linkOrigin: string;
}

/**
 * Batches: many references handed over at once. Each item is validated on its own, answered
 * from the cache when it can be, and otherwise given a low-priority job shared with any
 * identical request; the batch's record follows each item to its end.
 */
export class BatchService {
  private readonly envelope: ReturnType<typeof batchRequestSchema>;

  constructor(
    private readonly deps: {
      jobs: DownloadJobs;
      index: MediaIndex;
      /** Where completed items are read from. */
      store: BlobStore;
      followers: JobFollowers;
      allowList: HostAllowList;
      callbacks: Callbacks;
      maxItems: number;
      /** Seals the mediaKey of the job data (JOB_DATA_KEY). */
      secrets: JobSecrets;
      /** Says which items' jobs wait for the phone to re-upload their media. */
      reuploads: ReuploadService;
      /** Links to completed items' media (`?links=1`). */
      links: MediaLinks;
    },
  ) {
    this.envelope = batchRequestSchema(deps.maxItems);
  }

  /** Accepts a batch: every item gets its status at once (invalid, completed from the cache, or pending). */
  async submit(instanceId: string, body: unknown, context: SubmitContext): Promise<BatchStatus> {
    const parsed = this.envelope.safeParse(body);
    if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error));
    const { items: rawItems, callbackUrl, links } = parsed.data;
    if (callbackUrl) this.deps.callbacks.check(callbackUrl);

    const items = await this.resolveItems(rawItems, instanceId, context.requestId);
    const { followers } = this.deps;
    const linkOrigin = links ? context.linkOrigin : undefined;
    const { meta, counts } = await followers.batches.create(instanceId, items, { callbackUrl, linkOrigin });
    await Promise.all(items.map((item, index) => this.follow(meta, item, index)));
    // With items pending, the follower that finishes the last one reports the batch done.
    if (counts.pending === 0) await followers.notifier.batchDone(meta, counts);
    return this.status(instanceId, meta.batchId, { offset: 0, limit: meta.total });
  }

  /** One page of a batch's items, with its counts; with `links`, each completed item with its link. */
  async status(
    instanceId: string,
    batchId: string,
    page: { offset: number; limit: number },
    links?: LinkOptions,
  ): Promise<BatchStatus> {
    const meta = await this.findBatch(instanceId, batchId);
    const { batches } = this.deps.followers;
    const [counts, items] = await Promise.all([batches.counts(batchId), batches.items(batchId, page.offset, page.limit)]);
    const awaiting = await this.deps.reuploads.awaiting(items.flatMap((item) => (item.status === 'pending' ? [item.jobId!] : [])));
    const next = page.offset + items.length;
    const presented = items.map((item) => withReupload(presentItem(meta, item), awaiting));
    return {
      batchId,
      total: meta.total,
      counts,
      done: counts.pending === 0,
      createdAt: meta.createdAt,
      statusUrl: batchPath(instanceId, batchId),
      items: links ? await this.withLinks(presented, links) : presented,
      ...(next < meta.total ? { nextOffset: next } : {}),
    };
  }

  /** The file of one item: ready, still pending, or its failure thrown. */
  async itemContent(instanceId: string, batchId: string, itemId: string): Promise<DownloadOutcome> {
    await this.findBatch(instanceId, batchId);
    const item = await this.deps.followers.batches.item(batchId, itemId);
    if (!item) throw new BatchNotFoundError(`batch ${batchId} has no item ${itemId}`);
    if (item.status === 'pending') {
      const awaiting = await this.deps.reuploads.awaiting([item.jobId!]);
      return { kind: 'pending', jobId: item.jobId!, status: awaiting.size > 0 ? 'awaiting_reupload' : 'waiting' };
    }
    const media = itemMedia(item);
    if (media) return { kind: 'ready', media: storedMedia(this.deps.store, media) };
    if (item.status === 'invalid') throw new InvalidRequestError(item.error?.message ?? ['invalid item']);
    throw new JobFailedError(item.errorCode ?? 'INTERNAL', item.error?.message.join('; ') ?? 'the download failed');
  }

  /** Completed items with their links; presigning and HMACs are local, so all at once. */
  private withLinks(items: BatchItem[], options: LinkOptions): Promise<BatchItem[]> {
    return Promise.all(items.map((item) => withLink(item, this.deps.links, options)));
  }

  /** Validates, looks up and enqueues every item; the result is in submission order. */
  private async resolveItems(rawItems: unknown[], instanceId: string, requestId?: string): Promise<StoredItem[]> {
    const seen = new Set<string>();
    const checked = rawItems.map((raw, index) => this.validate(raw, index, seen));
    const items = checked.map(({ item }) => item);
    const uncached: { index: number; data: DownloadJobData }[] = [];
    await forEachLimited(checked, LOOKUP_CONCURRENCY, async ({ request }, index) => {
      if (!request) return;
      const lookupKey = referenceLookupKey(request.content, request.contentType);
      const cached = await this.deps.index.get(lookupKey);
      if (cached) items[index] = fromCacheOrFailure(items[index]!, cached, request);
      else uncached.push({ index, data: toJobData(request, lookupKey, instanceId, requestId, this.deps.secrets) });
    });
    const jobIds = await this.deps.jobs.enqueueBatch(uncached.map(({ data }) => data), instanceId);
    uncached.forEach(({ index }, i) => (items[index]!.jobId = jobIds[i]));
    return items;
  }

  /**
   * An item (a reference, or a message) that passes validation is pending, with its parsed
   * request; any other is invalid. Invalid items keep the id they claim (their own, else their
   * message's key.id) when it is usable, so they can be matched up; else `#<index>`.
   */
  private validate(raw: unknown, index: number, seen: Set<string>): { item: StoredItem; request?: BatchItemRequest } {
    const givenId = batchItemIdSchema.safeParse(claimedItemId(raw));
    const duplicate = givenId.success && seen.has(givenId.data);
    const id = givenId.success && !duplicate ? givenId.data : `#${index}`;
    if (givenId.success) seen.add(givenId.data);
    if (duplicate) return { item: invalid(id, [`id: "${givenId.data}" is used by an earlier item`]) };
    const parsed = batchItemBodySchema.safeParse(raw);
    if (!parsed.success) return { item: invalid(id, describeIssues(parsed.error)) };
    const { contentType, content } = parsed.data;
    try {
      if (content.url) this.deps.allowList.assertAllowed(new URL(content.url));
    } catch (error) {
      if (error instanceof WamediaError) return { item: invalid(id, error.messages) };
      throw error;
    }
    return { item: { id, status: 'pending', contentType, hints: hintsOf(content) }, request: parsed.data };
  }

  /** Follows a pending item's job; an item whose job already ended is finished right away. */
  private async follow(meta: BatchMeta, item: StoredItem, index: number): Promise<void> {
    const { subscriptions, notifier } = this.deps.followers;
    if (item.status === 'completed' || item.status === 'failed') return notifier.itemFinished(meta, item, index);
    if (item.status !== 'pending') return;
    const subscription = { kind: 'batch', batchId: meta.batchId, index } as const;
    const ended = await subscriptions.subscribe(item.jobId!, subscription);
    if (ended) await notifier.notify(subscription, item.jobId!, ended);
    else if (meta.callbackUrl) await this.deps.callbacks.tellIfWaiting(subscription, item.jobId!);
  }

  private async findBatch(instanceId: string, batchId: string): Promise<BatchMeta> {
    const meta = /^[0-9a-f-]{36}$/.test(batchId)
      ? await this.deps.followers.batches.meta(batchId, instanceId)
      : undefined;
    if (!meta) throw new BatchNotFoundError(`batch ${batchId} not found`);
    return meta;
  }
}

/** A pending item whose job waits for the phone to re-upload its media says so. */
function withReupload(item: BatchItem, awaiting: Set<string>): BatchItem {
  return item.status === 'pending' && awaiting.has(item.jobId!) ? { ...item, status: 'awaiting_reupload' } : item;
}

/** A cached item is completed, unless its hashes disagree with the stored file. */
function fromCacheOrFailure({ hints: _checkedHere, ...item }: StoredItem, entry: MediaIndexEntry, request: BatchItemRequest): StoredItem {
  try {
    const { sha256, size, mimetype } = fromCache(entry, request);
    return { ...item, status: 'completed', result: { sha256, size, mimetype } };
  } catch (error) {
    if (!(error instanceof WamediaError)) throw error;
    return { ...item, status: 'failed', errorCode: error.code, error: toErrorBody(error) };
  }
}

function invalid(id: string, messages: string[]): StoredItem {
  return { id, status: 'invalid', error: toErrorBody(new InvalidRequestError(messages)) };
}

/** Runs `task` over `items` with at most `limit` at once. */
async function forEachLimited<T>(items: T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
