/**
 * TokenVersionCache against a real Redis (REDIS_URL, default 127.0.0.1:6379), under a key
 * prefix of its own, removed afterwards. Reads are counted, so a cached answer is told apart
 * from one read again; revocations are waited for through the cache's own subscriber.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVersionCache } from './token-version-cache.js';
import { TokenVersions, revokedChannel } from './token-versions.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `wamedia-test-versions-${randomBytes(4).toString('hex')}`;
let redis: Redis;
const subscribers: Redis[] = [];

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await Promise.all([redis, ...subscribers].map((connection) => connection.quit()));
});

/** A cache over counted reads, subscribed before it is returned. */
async function cache(maxAgeMs: number) {
  const versions = new TokenVersions(redis, prefix);
  const reads = { count: 0 };
  const counted = { current: (id: string) => (reads.count++, versions.current(id)), revoke: (id: string) => versions.revoke(id) };
  const subscriber = new Redis(REDIS_URL);
  subscribers.push(subscriber);
  const subscribed = once(subscriber, 'ready').then(() => waitForSubscription(subscriber));
  const cached = new TokenVersionCache(counted, subscriber, { prefix, maxAgeMs });
  await subscribed;
  return { versions, reads, cached, subscriber };
}

async function waitForSubscription(subscriber: Redis): Promise<void> {
  for (;;) {
    const [, count] = (await redis.call('PUBSUB', 'NUMSUB', revokedChannel(prefix))) as [string, number];
    if (count > 0 && subscriber.status === 'ready') return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Resolves when `subscriber` has received the next revocation of `instanceId`. */
function revocationSeen(subscriber: Redis, instanceId: string): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (_channel: string, message: string) => {
      if (message !== instanceId) return;
      subscriber.off('message', onMessage);
      resolve();
    };
    subscriber.on('message', onMessage);
  });
}

describe('TokenVersionCache', () => {
  it('answers from memory while fresh: many checks, one read', async () => {
    const { cached, reads } = await cache(60_000);
    const answers = await Promise.all(Array.from({ length: 50 }, () => cached.current('fresh')));
    expect(answers).toEqual(Array(50).fill(0));
    expect(await cached.current('fresh')).toBe(0);
    expect(reads.count).toBe(1);
  });

  it('sees a revocation made by another process as soon as it is announced, however long entries live', async () => {
    const { cached, reads, subscriber } = await cache(60_000);
    const other = new TokenVersions(redis, prefix);
    expect(await cached.current('revoked')).toBe(0);
    const seen = revocationSeen(subscriber, 'revoked');
    expect(await other.revoke('revoked')).toBe(1);
    await seen;
    expect(await cached.current('revoked')).toBe(1);
    expect(reads.count).toBe(2);
  });

  it('sees its own revocation at once, before any announcement', async () => {
    const { cached, reads } = await cache(60_000);
    expect(await cached.current('own')).toBe(0);
    expect(await cached.revoke('own')).toBe(1);
    expect(await cached.current('own')).toBe(1);
    expect(reads.count).toBe(2);
  });

  it('reads again once an entry is older than maxAgeMs, even without an announcement', async () => {
    const { cached, reads } = await cache(0);
    expect(await cached.current('aged')).toBe(0);
    // A bump that bypasses the announcement (as a lost message would).
    await redis.incr(`${prefix}:token-version:aged`);
    expect(await cached.current('aged')).toBe(1);
    expect(reads.count).toBe(2);
  });

  it('drops every entry when its subscriber reconnects (announcements may have been lost)', async () => {
    const { cached, reads, subscriber } = await cache(60_000);
    expect(await cached.current('reconnect')).toBe(0);
    await redis.incr(`${prefix}:token-version:reconnect`);
    const back = once(subscriber, 'ready');
    subscriber.disconnect(true);
    await back;
    expect(await cached.current('reconnect')).toBe(1);
    expect(reads.count).toBe(2);
  });
});
