import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/redis-connector.js';
import { hintMismatch, toErrorBody, type BatchCounts, type BatchItem, type BatchItemStatus, type ErrorCode, type MediaHints } from '@wamedia/shared';
import type { JobEnd } from './job-subscriptions.js';

/** A batch's own facts. */
export interface BatchMeta {
  batchId: string;
  instanceId: string;
  createdAt: string;
  total: number;
  callbackUrl?: string;
  /**
   * Set when the batch was submitted with `"links": true`: the origin of the links its webhooks
   * carry (PUBLIC_BASE_URL, else the one the batch was submitted to), for links the API serves.
   */
  linkOrigin?: string;
}

/**
 * An item's status as stored. `awaiting_reupload` is never stored: it is read from the item's job
 * when the item is shown (the job, shared by every item and request of the media, is its source).
 */
export type StoredItemStatus = Exclude<BatchItemStatus, 'awaiting_reupload'>;

/**
 * An item as stored: its state without URLs, the code of its failure for the content route, and,
 * while pending, its own hints, checked against its job's result when the job shares another's.
 */
export type StoredItem = Omit<BatchItem, 'contentUrl' | 'status'> & { status: StoredItemStatus; errorCode?: ErrorCode; hints?: MediaHints };

/**
 * KEYS: the items list, the counts hash. ARGV: the item's index, its finished JSON, its status.
 * Finishes the item only while it is pending; answers the item as stored and the counts (HGETALL).
 */
const FINISH_ONCE = `
local stored = redis.call('LINDEX', KEYS[1], ARGV[1])
if not stored then return false end
if cjson.decode(stored).status == 'pending' then
  redis.call('LSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('HINCRBY', KEYS[2], 'pending', -1)
  redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
  stored = ARGV[2]
end
return {stored, redis.call('HGETALL', KEYS[2])}
`;

/** A batch's state after one of its items finished. */
export interface ItemFinished {
  meta: BatchMeta;
  item: StoredItem;
  counts: BatchCounts;
  /** True once no item of the batch is pending. */
  batchDone: boolean;
}

/**
 * Batches in Redis: the meta in a hash, the items in a list (in submission order, so pages are
 * LRANGEs), their positions by id, and live counts. Everything expires with the job records.
 */
export class BatchStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: { prefix: string; retentionSeconds: number },
  ) {}

  /** Stores a new batch; its items' counts are derived from their statuses, and returned. */
  async create(
    instanceId: string,
    items: StoredItem[],
    { callbackUrl, linkOrigin }: Pick<BatchMeta, 'callbackUrl' | 'linkOrigin'> = {},
  ): Promise<{ meta: BatchMeta; counts: BatchCounts }> {
    const meta: BatchMeta = { batchId: randomUUID(), instanceId, createdAt: new Date().toISOString(), total: items.length };
    if (callbackUrl) meta.callbackUrl = callbackUrl;
    if (linkOrigin) meta.linkOrigin = linkOrigin;
    const keys = this.keys(meta.batchId);
    const positions = Object.fromEntries(items.map((item, index) => [item.id, index]));
    const counts = countStatuses(items);
    const ttl = this.options.retentionSeconds;
    await this.redis
      .multi()
      .set(keys.meta, JSON.stringify(meta), 'EX', ttl)
      .rpush(keys.items, ...items.map((item) => JSON.stringify(item)))
      .expire(keys.items, ttl)
      .hset(keys.positions, positions)
      .expire(keys.positions, ttl)
      .hset(keys.counts, counts)
      .expire(keys.counts, ttl)
      .exec();
    return { meta, counts };
  }

  /** The batch, when it exists and belongs to `instanceId`. */
  async meta(batchId: string, instanceId: string): Promise<BatchMeta | undefined> {
    const meta = await this.find(batchId);
    return meta?.instanceId === instanceId ? meta : undefined;
  }

  /** The batch, whoever it belongs to (for the workers, which act for every instance). */
  async find(batchId: string): Promise<BatchMeta | undefined> {
    const raw = await this.redis.get(this.keys(batchId).meta);
    return raw ? (JSON.parse(raw) as BatchMeta) : undefined;
  }

  async counts(batchId: string): Promise<BatchCounts> {
    return parseCounts(await this.redis.hgetall(this.keys(batchId).counts));
  }

  /** Items `offset` to `offset + limit - 1`, in submission order. */
  async items(batchId: string, offset: number, limit: number): Promise<StoredItem[]> {
    const raw = await this.redis.lrange(this.keys(batchId).items, offset, offset + limit - 1);
    return raw.map((item) => JSON.parse(item) as StoredItem);
  }

  /** One item by the client's id. */
  async item(batchId: string, itemId: string): Promise<StoredItem | undefined> {
    const index = await this.redis.hget(this.keys(batchId).positions, itemId);
    if (index === null) return undefined;
    const raw = await this.redis.lindex(this.keys(batchId).items, Number(index));
    return raw ? (JSON.parse(raw) as StoredItem) : undefined;
  }

  /**
   * Records the end of a pending item's job, once: the item and the counts move in one script,
   * which leaves an item that already finished as it is (a notice given again after an outage
   * cut the first one short). Either way it answers the batch's state, with `batchDone` once no
   * item is pending, so the webhooks owed can be sent (again: their delivery ids drop repeats).
   */
  async finishItem(batchId: string, index: number, end: JobEnd): Promise<ItemFinished | undefined> {
    const keys = this.keys(batchId);
    const [rawMeta, rawItem] = await Promise.all([this.redis.get(keys.meta), this.redis.lindex(keys.items, index)]);
    if (!rawMeta || !rawItem) return undefined; // expired
    const { hints, ...pending } = JSON.parse(rawItem) as StoredItem;
    const item: StoredItem = { ...pending, ...itemEnd(end, hints) };
    const reply = (await this.redis.eval(FINISH_ONCE, 2, keys.items, keys.counts, index, JSON.stringify(item), item.status)) as
      | [string, string[]]
      | null;
    if (!reply) return undefined; // expired since
    const [stored, flatCounts] = reply;
    const counts = parseCounts(Object.fromEntries(pairs(flatCounts)));
    return { meta: JSON.parse(rawMeta) as BatchMeta, item: JSON.parse(stored) as StoredItem, counts, batchDone: counts.pending === 0 };
  }

  private keys(batchId: string) {
    const base = `${this.options.prefix}:batch:${batchId}`;
    return { meta: base, items: `${base}:items`, positions: `${base}:positions`, counts: `${base}:counts` };
  }
}

/** An item's end: its job's, unless its own hints disagree with the job's verified result. */
function itemEnd(end: JobEnd, hints: MediaHints = {}): Pick<StoredItem, 'status' | 'result' | 'error' | 'errorCode'> {
  if (end.status === 'failed') return { status: 'failed', error: end.error, errorCode: end.code };
  const mismatch = hintMismatch(hints, end.result);
  if (mismatch) return { status: 'failed', error: toErrorBody(mismatch), errorCode: mismatch.code };
  return { status: 'completed', result: end.result };
}

function parseCounts(raw: Record<string, string>): BatchCounts {
  const count = (status: StoredItemStatus) => Number(raw[status] ?? 0);
  return { pending: count('pending'), completed: count('completed'), failed: count('failed'), invalid: count('invalid') };
}

/** [k1, v1, k2, v2, ...] as [[k1, v1], [k2, v2], ...]: an HGETALL answered from a script. */
function pairs(flat: string[]): [string, string][] {
  const result: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) result.push([flat[i]!, flat[i + 1]!]);
  return result;
}

function countStatuses(items: StoredItem[]): BatchCounts {
  const counts: Record<StoredItemStatus, number> = { pending: 0, completed: 0, failed: 0, invalid: 0 };
  for (const item of items) counts[item.status]++;
  return counts;
}
