/**
 * holdLock against a real BullMQ worker on a real Redis (REDIS_URL, default 127.0.0.1:6379),
 * under a key prefix of its own, removed afterwards. A lock lost to a partition is stood in for
 * by what the partition leaves in Redis: the lock key expired (gone), or taken by the worker that
 * got the job from stall detection (another token).
 */
import { randomBytes } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeysUnder } from '../../../test/support/redis-client.js';
import { LockLostError, holdLock } from './job-lock.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `wamedia-test-joblock-${randomBytes(4).toString('hex')}`;
const QUEUE = 'locks';
const LOCK_MS = 30_000;
const connection = { url: REDIS_URL, maxRetriesPerRequest: null };

let redis: Redis;
let queue: Queue;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  queue = new Queue(QUEUE, { connection, prefix });
});

afterAll(async () => {
  await queue.close();
  await redis.quit();
  await deleteKeysUnder(REDIS_URL, prefix);
});

/**
 * Runs one job on a worker whose processor hands its job and token to `inside` and resolves
 * with what `inside` resolved or rejected with.
 */
async function insideAJob<T>(inside: (job: Job, token: string) => Promise<T>): Promise<{ value?: T; error?: unknown }> {
  let ran!: (outcome: { value?: T; error?: unknown }) => void;
  const outcome = new Promise<{ value?: T; error?: unknown }>((resolve) => (ran = resolve));
  const worker = new Worker(
    QUEUE,
    async (job, token) => {
      try {
        ran({ value: await inside(job, token!) });
      } catch (error) {
        ran({ error });
      }
    },
    { connection, prefix, lockDuration: LOCK_MS },
  );
  // Completing a job whose lock a test took away fails, as it should; that is not this test's subject.
  worker.on('error', () => undefined);
  try {
    await queue.add('job', {});
    return await outcome;
  } finally {
    await worker.close();
  }
}

const lockKey = (job: Job) => `${prefix}:${QUEUE}:${job.id}:lock`;

describe('holdLock', () => {
  it('resolves while the token holds the lock, and renews it', async () => {
    const { value, error } = await insideAJob(async (job, token) => {
      await redis.pexpire(lockKey(job), 1_000);
      await holdLock(job, token, LOCK_MS);
      return { owner: await redis.get(lockKey(job)), ttl: await redis.pttl(lockKey(job)) };
    });
    expect(error).toBeUndefined();
    expect(value!.ttl).toBeGreaterThan(1_000);
    expect(value!.owner).toBeTypeOf('string');
  });

  it('throws LockLostError once the lock expired, and does not bring it back', async () => {
    const { error } = await insideAJob(async (job, token) => {
      await redis.del(lockKey(job));
      try {
        await holdLock(job, token, LOCK_MS);
      } finally {
        expect(await redis.exists(lockKey(job))).toBe(0);
      }
    });
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as LockLostError).jobId).toBeTypeOf('string');
  });

  it('throws LockLostError once another worker holds the lock, and leaves that lock as it is', async () => {
    const { value, error } = await insideAJob(async (job, token) => {
      await redis.set(lockKey(job), 'the-new-holder', 'PX', LOCK_MS);
      const lost = await holdLock(job, token, LOCK_MS).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      return { lost, owner: await redis.get(lockKey(job)) };
    });
    expect(error).toBeUndefined();
    expect(value!.lost).toBeInstanceOf(LockLostError);
    expect(value!.owner).toBe('the-new-holder');
  });

  it('checks nothing for a job run without a token (outside a worker)', async () => {
    const calls: unknown[] = [];
    await holdLock({ id: 'x', extendLock: async (...args) => (calls.push(args), 0) }, undefined, LOCK_MS);
    expect(calls).toEqual([]);
  });
});
