import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { WEBHOOK_QUEUE, type WebhookJobData } from '@wamedia/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { createMediaLinks } from '../links/create-media-links.js';
import { RedisConnector } from '../redis/redis-connector.js';
import { createJobFollowers, type JobFollowers } from './job-followers.js';
import type { JobEnd } from './job-subscriptions.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const completed = (n: number): Extract<JobEnd, { status: 'completed' }> => ({ status: 'completed', result: { sha256: String(n).repeat(64), size: n, mimetype: 'image/jpeg' } });

/**
 * A worker's notice of a job's end can be cut short anywhere (Redis gone between two commands,
 * a command ioredis resends after a reconnect, the worker killed), and the job's next attempt
 * gives it again. Given twice, each batch item finishes once, the counts stay right and each
 * webhook is queued once.
 */
describe('JobEndNotifier, a notice given again', () => {
  let redis: Redis;
  let followers: JobFollowers;
  /** The webhook queue, read as the workers would. */
  let webhooks: Queue<WebhookJobData>;
  const prefix = `notifier-test-${randomUUID()}`;

  beforeAll(async () => {
    const config = loadConfig({ JWT_SECRET: 'x'.repeat(32), WEBHOOK_SECRET: 'y'.repeat(32), REDIS_URL, REDIS_PREFIX: prefix });
    redis = new Redis(REDIS_URL);
    followers = createJobFollowers(config, redis, createMediaLinks(config), () => RedisConnector.fromConfig(config).queueConnection());
    await followers.waitUntilReady();
    webhooks = new Queue(WEBHOOK_QUEUE, { connection: { url: REDIS_URL }, prefix });
  });

  afterAll(async () => {
    await followers?.close();
    await webhooks?.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis?.disconnect();
  });

  /** A batch with a callback URL and two pending items, each following its own job. */
  async function batchOfTwo() {
    const items = [0, 1].map((i) => ({ id: `item-${i}`, status: 'pending' as const, contentType: 'image' as const }));
    const { meta } = await followers.batches.create('instance-n', items, { callbackUrl: 'https://hooks.example/batch' });
    const jobs = [`job-${randomUUID()}`, `job-${randomUUID()}`];
    for (const [index, jobId] of jobs.entries()) {
      expect(await followers.subscriptions.subscribe(jobId, { kind: 'batch', batchId: meta.batchId, index })).toBeUndefined();
    }
    return { batchId: meta.batchId, jobs };
  }

  async function webhooksOf(batchId: string): Promise<string[]> {
    const queued = await webhooks.getJobs(['wait', 'prioritized', 'delayed']);
    return queued
      .map((job) => job.data.event)
      .filter((event) => 'batchId' in event && event.batchId === batchId)
      .map((event) => event.type)
      .sort();
  }

  it('finishes an item once when its first notice stopped after the item was recorded', async () => {
    const { batchId, jobs } = await batchOfTwo();
    // The first notice got as far as the item, then stopped: its follower was never forgotten.
    expect(await followers.subscriptions.jobEnded(jobs[0]!, completed(1))).toHaveLength(1);
    await followers.batches.finishItem(batchId, 0, completed(1));

    await followers.notifier.jobEnded(jobs[0]!, completed(1));
    expect(await followers.batches.counts(batchId)).toEqual({ pending: 1, completed: 1, failed: 0, invalid: 0 });
    expect(await webhooksOf(batchId)).toEqual(['batch.item']);

    await followers.notifier.jobEnded(jobs[1]!, completed(2));
    await followers.notifier.jobEnded(jobs[1]!, completed(2));
    expect(await followers.batches.counts(batchId)).toEqual({ pending: 0, completed: 2, failed: 0, invalid: 0 });
    expect(await webhooksOf(batchId)).toEqual(['batch.done', 'batch.item', 'batch.item']);
    const [first, second] = await followers.batches.items(batchId, 0, 2);
    expect(first).toMatchObject({ status: 'completed', result: completed(1).result });
    expect(second).toMatchObject({ status: 'completed', result: completed(2).result });
  });

  it('still tells a follower whose notice stopped before the item was recorded', async () => {
    const { batchId, jobs } = await batchOfTwo();
    // Marked ended, followers read, and nothing else: the notice stopped there.
    await followers.subscriptions.jobEnded(jobs[0]!, completed(1));

    await followers.notifier.jobEnded(jobs[0]!, completed(1));
    expect(await followers.batches.counts(batchId)).toMatchObject({ pending: 1, completed: 1 });
    // Told once, the follower is forgotten: a later notice changes nothing and sends nothing.
    expect(await followers.subscriptions.jobEnded(jobs[0]!, completed(1))).toEqual([]);
    expect(await webhooksOf(batchId)).toEqual(['batch.item']);
  });

  it('keeps an item that already failed as it is when another end is reported for it', async () => {
    const { batchId } = await batchOfTwo();
    const failed: JobEnd = { status: 'failed', code: 'MEDIA_EXPIRED', error: { statusCode: 404, error: 'Not Found', message: ['gone'] } };
    expect((await followers.batches.finishItem(batchId, 0, failed))?.item.status).toBe('failed');
    const again = await followers.batches.finishItem(batchId, 0, completed(1));
    expect(again?.item.status).toBe('failed');
    expect(again?.counts).toEqual({ pending: 1, completed: 0, failed: 1, invalid: 0 });
  });
});
