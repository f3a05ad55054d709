import type { RedisClient } from '../redis/redis-connector.js';
import type { MessageKey } from '@wamedia/shared';
import type { RetryResult } from '../media-retry/retry-messages.js';

/** The phone's answer to a re-upload request, as the job takes it up. */
export type ReuploadAnswer =
  | { kind: 'directPath'; directPath: string }
  | { kind: 'result'; result: Exclude<RetryResult, 'SUCCESS'> };

/**
 * One job's re-upload round: `awaiting` the phone's answer until `expiresAt`, then `answered` by the
 * reupload route, or `expired` when the job woke up first. A job has one round at most.
 */
export interface ReuploadRecord {
  state: 'awaiting' | 'answered' | 'expired';
  messageKey: MessageKey;
  /** The retry receipt, base64. */
  receipt: { encP: string; encIv: string };
  /** Unix ms. */
  expiresAt: number;
  /** The CDN's answer that started the round (403, 404 or 410): the job's 404 names it when the round expires. */
  cdnStatus: number;
  /** With `answered`. */
  answer?: ReuploadAnswer;
}

export type NewReupload = Omit<ReuploadRecord, 'state' | 'answer'>;

// Each script reads and writes one record atomically, so the route's answer and the job's wake-up
// at the deadline cannot both win.
const OPEN_ONCE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`;
const MOVE_FROM = `
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', unpack(ARGV, 2))
return 1`;

/**
 * The re-upload rounds of download jobs, in Redis (one hash per job). The worker opens a round and
 * closes it at the deadline; the API answers it. Decides nothing: the callers say what a state means.
 */
export class ReuploadStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: {
      prefix: string;
      /** How long a record outlives its deadline, in seconds: as long as the job itself is kept. */
      retentionSeconds: number;
    },
  ) {}

  /** Opens the job's round; false when the job already had one (a job asks the phone once). */
  async open(jobId: string, round: NewReupload): Promise<boolean> {
    const ttl = Math.ceil(Math.max(0, round.expiresAt - Date.now()) / 1000) + this.options.retentionSeconds;
    const fields = {
      state: 'awaiting',
      messageKey: JSON.stringify(round.messageKey),
      encP: round.receipt.encP,
      encIv: round.receipt.encIv,
      expiresAt: String(round.expiresAt),
      cdnStatus: String(round.cdnStatus),
    };
    const opened = await this.redis.eval(OPEN_ONCE, 1, this.key(jobId), ttl, ...Object.entries(fields).flat());
    return opened === 1;
  }

  /** The job's round, if it had one. */
  async get(jobId: string): Promise<ReuploadRecord | undefined> {
    const raw = await this.redis.hgetall(this.key(jobId));
    return raw.state ? parseRecord(raw) : undefined;
  }

  /** Records the phone's answer; false when the round is not awaiting one (none, answered, expired). */
  async answer(jobId: string, answer: ReuploadAnswer): Promise<boolean> {
    const moved = await this.redis.eval(MOVE_FROM, 1, this.key(jobId), 'awaiting', 'answered', 'answer', JSON.stringify(answer));
    return moved === 1;
  }

  /** Closes a round that got no answer in time; false when it is not awaiting one (answered meanwhile). */
  async expire(jobId: string): Promise<boolean> {
    return (await this.redis.eval(MOVE_FROM, 1, this.key(jobId), 'awaiting', 'expired')) === 1;
  }

  /** Forgets the job's round, before a new job with the same id starts over (it may have a round of its own). */
  async forget(jobId: string): Promise<void> {
    await this.redis.del(this.key(jobId));
  }

  /** Which of `jobIds` await an answer right now. */
  async awaiting(jobIds: readonly string[]): Promise<Set<string>> {
    const unique = [...new Set(jobIds)];
    if (unique.length === 0) return new Set();
    const pipeline = this.redis.pipeline();
    for (const jobId of unique) pipeline.hget(this.key(jobId), 'state');
    const states = (await pipeline.exec()) ?? [];
    return new Set(unique.filter((_, index) => states[index]?.[1] === 'awaiting'));
  }

  private key(jobId: string): string {
    return `${this.options.prefix}:reupload:${jobId}`;
  }
}

function parseRecord(raw: Record<string, string>): ReuploadRecord {
  return {
    state: raw.state as ReuploadRecord['state'],
    messageKey: JSON.parse(raw.messageKey ?? '{}') as MessageKey,
    receipt: { encP: raw.encP ?? '', encIv: raw.encIv ?? '' },
    expiresAt: Number(raw.expiresAt),
    cdnStatus: Number(raw.cdnStatus),
    ...(raw.answer ? { answer: JSON.parse(raw.answer) as ReuploadAnswer } : {}),
  };
}
