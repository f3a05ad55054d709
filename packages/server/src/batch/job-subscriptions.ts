import type { RedisClient } from '../redis/redis-connector.js';
import type { ErrorBodyShape, ErrorCode } from '@wamedia/shared';

/** How a download job ended, as its followers need to know it. */
export type JobEnd =
  | { status: 'completed'; result: { sha256: string; size: number; mimetype: string } }
  | { status: 'failed'; code: ErrorCode; error: ErrorBodyShape };

/**
 * Who wants to hear about a job: an item of a batch (its end, and its re-upload requests when the
 * batch has a callback URL), a single request's callback URL once answered 202 (its end), or a
 * single request's callback URL from the start (its re-upload requests only).
 */
export type Subscription =
  | { kind: 'batch'; batchId: string; index: number }
  | { kind: 'callback'; url: string; instanceId: string }
  | { kind: 'reupload'; url: string; instanceId: string };

/**
 * Followers of download jobs, in Redis. A job may end while a follower registers: the worker
 * reads the followers and marks the job ended in one MULTI, and a follower registers and reads
 * the mark in one MULTI, so Redis orders the two and exactly one side sees the other.
 *
 * A follower stays registered until it has been told ({@link notified}): a notice cut short (Redis
 * gone mid-way, the worker killed) is given again when the job's next attempt ends it again, and
 * every step of it is idempotent, so a command that ioredis resends after a reconnect is harmless.
 */
export class JobSubscriptions {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: { prefix: string; retentionSeconds: number },
  ) {}

  /** Registers a follower; resolves with the job's end when it has already ended (nothing registered). */
  async subscribe(jobId: string, subscription: Subscription): Promise<JobEnd | undefined> {
    const results = await this.redis
      .multi()
      .sadd(this.subscribersKey(jobId), JSON.stringify(subscription))
      .expire(this.subscribersKey(jobId), this.options.retentionSeconds)
      .get(this.endedKey(jobId))
      .exec();
    const ended = results?.[2]?.[1] as string | null | undefined;
    if (!ended) return undefined;
    await this.redis.srem(this.subscribersKey(jobId), JSON.stringify(subscription));
    return JSON.parse(ended) as JobEnd;
  }

  /** Marks a job ended and hands back everyone following it who has not been told yet. */
  async jobEnded(jobId: string, end: JobEnd): Promise<Subscription[]> {
    const results = await this.redis
      .multi()
      .set(this.endedKey(jobId), JSON.stringify(end), 'EX', this.options.retentionSeconds)
      .smembers(this.subscribersKey(jobId))
      .exec();
    const members = (results?.[1]?.[1] ?? []) as string[];
    return members.map((member) => JSON.parse(member) as Subscription);
  }

  /** `follower` has been told of the job's end: it is not handed back again. */
  async notified(jobId: string, follower: Subscription): Promise<void> {
    await this.redis.srem(this.subscribersKey(jobId), JSON.stringify(follower));
  }

  /** Everyone following a job that has not ended, left in place. */
  async followers(jobId: string): Promise<Subscription[]> {
    const members = await this.redis.smembers(this.subscribersKey(jobId));
    return members.map((member) => JSON.parse(member) as Subscription);
  }

  /** Forgets a job's end, before a new job with the same id starts over. */
  async jobRestarted(jobId: string): Promise<void> {
    await this.redis.del(this.endedKey(jobId));
  }

  private subscribersKey(jobId: string): string {
    return `${this.options.prefix}:job-subscribers:${jobId}`;
  }

  private endedKey(jobId: string): string {
    return `${this.options.prefix}:job-ended:${jobId}`;
  }
}
