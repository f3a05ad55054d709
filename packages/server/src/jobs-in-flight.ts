import type { RedisClient } from './redis/redis-connector.js';
import { DOWNLOAD_QUEUE } from '@wamedia/shared';

/**
 * Which budget a job counts against. Single requests and batch items are counted apart, each
 * against the same limit: batch jobs run below every waiting client (BATCH_PRIORITY), so an
 * instance's own batch must not lock its interactive downloads out.
 */
export type JobPool = 'single' | 'batch';

export interface JobsInFlightOptions {
  /** REDIS_PREFIX. */
  prefix: string;
  /** Most jobs in flight per instance and pool; 0 = no limit (nothing is counted). */
  limit: number;
  /** How long an idle instance's record is kept, in seconds (refreshed by every reservation). */
  ttlSeconds: number;
  /**
   * How long a reservation whose job does not exist is kept, in ms (default 60000): the job is
   * added just after its reservation, so a missing job is only taken for gone after a while.
   */
  graceMs?: number;
}

/** What a reservation came to. */
export interface Reservation {
  admitted: boolean;
  /** Jobs of the instance in the pool, after the reservation (or at the refusal). */
  inFlight: number;
}

/**
 * Admission is atomic (one script, one round trip): concurrent requests of one instance cannot
 * both take the last slot. A request is admitted while the pool holds fewer than `limit` jobs;
 * all its new jobs are then added, so a batch may take its pool past the limit by at most one
 * batch (a batch larger than the room left is not refused for ever). Ids already reserved are
 * not counted twice. Before refusing, reservations whose job has ended (`finishedOn` set) or is
 * gone (past the grace period) are dropped: that reconciles jobs whose end no worker reported
 * (failed by stall detection after a crash, removed from the dashboard, a release lost to a
 * Redis blip, a job another instance added in the same instant, which the worker releases for
 * its creator only), reading BullMQ's job hashes, which live at `<prefix>:<queue>:<jobId>`.
 * This reads keys the script is not given: fine on one Redis (BullMQ's own scripts do the same),
 * and on a cluster too, where REDIS_PREFIX's hash tag puts the job hashes in the counter's slot.
 */
const RESERVE_SCRIPT = `
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local jobPrefix = ARGV[3]
local grace = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local fresh = {}
for i = 6, #ARGV do
  if not redis.call('ZSCORE', key, ARGV[i]) then fresh[#fresh + 1] = ARGV[i] end
end
local count = redis.call('ZCARD', key)
if #fresh == 0 then return {1, count} end
if count >= limit then
  local members = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local jobKey = jobPrefix .. members[i]
    if redis.call('EXISTS', jobKey) == 0 then
      if now - tonumber(members[i + 1]) > grace then redis.call('ZREM', key, members[i]) end
    elseif redis.call('HEXISTS', jobKey, 'finishedOn') == 1 then
      redis.call('ZREM', key, members[i])
    end
  end
  count = redis.call('ZCARD', key)
  if count >= limit then return {0, count} end
end
for i = 1, #fresh do redis.call('ZADD', key, now, fresh[i]) end
redis.call('EXPIRE', key, ttl)
return {1, count + #fresh}
`;

/**
 * The download jobs each instance created and that have not ended, per pool, in Redis: a sorted
 * set of job ids (scored by reservation time) per instance and pool. The API reserves a slot
 * before it adds a new job (joining an existing job takes none); the worker releases it when the
 * job ends. Decides nothing about HTTP.
 */
export class JobsInFlight {
  private readonly graceMs: number;
  private readonly jobKeyPrefix: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: JobsInFlightOptions,
  ) {
    this.graceMs = options.graceMs ?? 60_000;
    this.jobKeyPrefix = `${options.prefix}:${DOWNLOAD_QUEUE}:`;
  }

  /** The limit per instance and pool; 0 = none. */
  get limit(): number {
    return this.options.limit;
  }

  /** Reserves slots for the new jobs `jobIds` of `instanceId`; refused when the pool is full. */
  async reserve(instanceId: string, pool: JobPool, jobIds: readonly string[]): Promise<Reservation> {
    if (this.options.limit === 0 || jobIds.length === 0) return { admitted: true, inFlight: 0 };
    const reply = (await this.redis.eval(
      RESERVE_SCRIPT,
      1,
      this.key(instanceId, pool),
      this.options.limit,
      Date.now(),
      this.jobKeyPrefix,
      this.graceMs,
      this.options.ttlSeconds,
      ...jobIds,
    )) as [number, number];
    return { admitted: reply[0] === 1, inFlight: reply[1] };
  }

  /** A job ended: it no longer counts for the instance that created it (in either pool). */
  async release(instanceId: string, jobId: string): Promise<void> {
    await this.redis.multi().zrem(this.key(instanceId, 'single'), jobId).zrem(this.key(instanceId, 'batch'), jobId).exec();
  }

  /** Jobs the instance has in flight in `pool`, as recorded (ended ones not yet reconciled included). */
  async count(instanceId: string, pool: JobPool): Promise<number> {
    return this.redis.zcard(this.key(instanceId, pool));
  }

  private key(instanceId: string, pool: JobPool): string {
    return `${this.options.prefix}:in-flight:${pool}:${instanceId}`;
  }
}
