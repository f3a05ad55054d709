/**
 * JobsInFlight against a real Redis (REDIS_URL, default 127.0.0.1:6379), under a key prefix of
 * its own, removed afterwards. BullMQ's job hashes are stood in for by plain hashes at the same
 * keys: a reservation of a job that ended has `finishedOn`, a running one does not.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOWNLOAD_QUEUE } from '@wamedia/shared';
import { deleteKeysUnder } from '../../../test/support/redis-client.js';
import { JobsInFlight } from './jobs-in-flight.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `wamedia-test-inflight-${randomBytes(4).toString('hex')}`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  await deleteKeysUnder(REDIS_URL, prefix);
  await redis.quit();
});

/** A job as BullMQ keeps it: running (no finishedOn) or ended. */
async function job(id: string, ended = false): Promise<string> {
  await redis.hset(`${prefix}:${DOWNLOAD_QUEUE}:${id}`, ended ? { data: '{}', finishedOn: String(Date.now()) } : { data: '{}' });
  return id;
}

const ids = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `dl-${tag}-${i}`);

describe('JobsInFlight', () => {
  it('admits new jobs up to the limit, then refuses; the same id twice counts once', async () => {
    const limits = new JobsInFlight(redis, { prefix, limit: 3, ttlSeconds: 60 });
    const [a, b, c, d] = ids(4, 'basic');
    for (const id of [a!, b!, c!]) {
      await job(id);
      expect((await limits.reserve('tenant-1', 'single', [id])).admitted).toBe(true);
    }
    expect(await limits.reserve('tenant-1', 'single', [a!])).toEqual({ admitted: true, inFlight: 3 });
    expect(await limits.reserve('tenant-1', 'single', [d!])).toEqual({ admitted: false, inFlight: 3 });
    // Other instances and the other pool are counted apart.
    expect((await limits.reserve('tenant-2', 'single', [d!])).admitted).toBe(true);
    expect((await limits.reserve('tenant-1', 'batch', [d!])).admitted).toBe(true);
    // A job that ends frees its slot.
    await limits.release('tenant-1', b!);
    expect(await limits.reserve('tenant-1', 'single', [d!])).toEqual({ admitted: true, inFlight: 3 });
  });

  it('admits a whole batch while the pool is below the limit, however large, and nothing more after it', async () => {
    const limits = new JobsInFlight(redis, { prefix, limit: 5, ttlSeconds: 60 });
    const batch = ids(12, 'batch');
    for (const id of batch) await job(id);
    expect(await limits.reserve('tenant-b', 'batch', batch)).toEqual({ admitted: true, inFlight: 12 });
    expect((await limits.reserve('tenant-b', 'batch', ['dl-next'])).admitted).toBe(false);
    expect(await limits.count('tenant-b', 'batch')).toBe(12);
    // The instance's single requests have their own budget.
    expect((await limits.reserve('tenant-b', 'single', ['dl-next'])).admitted).toBe(true);
  });

  it('drops reservations of jobs that ended unreported, and of jobs gone past the grace period, before refusing', async () => {
    // Long enough for the three reserves below to run inside it on a loaded machine.
    const GRACE_MS = 1_500;
    const limits = new JobsInFlight(redis, { prefix, limit: 3, ttlSeconds: 60, graceMs: GRACE_MS });
    const [ended, running, missing, next] = ids(4, 'reconcile');
    await job(ended!, true);
    await job(running!);
    await job(next!);
    await job('dl-one-more');
    for (const id of [ended!, running!, missing!]) await limits.reserve('tenant-r', 'single', [id]);
    // The missing job may still be about to be added: it is kept during the grace period.
    expect(await limits.reserve('tenant-r', 'single', [next!])).toEqual({ admitted: true, inFlight: 3 });
    expect(await limits.reserve('tenant-r', 'single', ['dl-one-more'])).toEqual({ admitted: false, inFlight: 3 });
    await delay(GRACE_MS + 100);
    expect(await limits.reserve('tenant-r', 'single', ['dl-one-more'])).toEqual({ admitted: true, inFlight: 3 });
    const members = await redis.zrange(`${prefix}:in-flight:single:tenant-r`, '0', '-1');
    expect(members.sort()).toEqual([running!, next!, 'dl-one-more'].sort());
  });

  it('lets concurrent requests take exactly the free slots', async () => {
    const limits = new JobsInFlight(redis, { prefix, limit: 10, ttlSeconds: 60 });
    const candidates = ids(50, 'race');
    for (const id of candidates) await job(id);
    const results = await Promise.all(candidates.map((id) => limits.reserve('tenant-c', 'single', [id])));
    expect(results.filter((r) => r.admitted)).toHaveLength(10);
    expect(await limits.count('tenant-c', 'single')).toBe(10);
  });

  it('counts nothing with limit 0, and expires an idle record', async () => {
    const off = new JobsInFlight(redis, { prefix, limit: 0, ttlSeconds: 60 });
    for (const id of ids(5, 'off')) expect((await off.reserve('tenant-0', 'single', [id])).admitted).toBe(true);
    expect(await redis.exists(`${prefix}:in-flight:single:tenant-0`)).toBe(0);
    const on = new JobsInFlight(redis, { prefix, limit: 2, ttlSeconds: 60 });
    await on.reserve('tenant-ttl', 'single', ['dl-ttl']);
    const ttl = await redis.ttl(`${prefix}:in-flight:single:tenant-ttl`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
  });
});
