import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../../test/support/redis-server.js';
import { loadConfig } from '../config.js';
import { createMediaLinks } from '../links/create-media-links.js';
import { isRedisUnavailable } from '../redis/redis-check.js';
import { RedisConnector } from '../redis/redis-connector.js';
import { createJobFollowers, type JobFollowers } from './job-followers.js';

/** The API's settings of the webhook queue: no offline queue, one retry of a command in flight. */
const FAIL_FAST = { enableOfflineQueue: false, maxRetriesPerRequest: 1 } as const;

describe('the webhook queue of a fail-fast connection, while Redis is away', () => {
  let server: RedisServer;
  let followers: JobFollowers;

  beforeAll(async () => {
    server = await RedisServer.start();
    const config = loadConfig({ JWT_SECRET: 'x'.repeat(32), WEBHOOK_SECRET: 'y'.repeat(32), REDIS_URL: server.url, REDIS_PREFIX: 'followers-test' });
    // The batch store and subscriptions are not used here: only the outbox's own queue connection.
    followers = createJobFollowers(config, {} as Redis, createMediaLinks(config), () => RedisConnector.fromConfig(config).queueConnection(FAIL_FAST));
    await followers.waitUntilReady();
  });

  afterAll(async () => {
    await followers?.close().catch(() => undefined);
    await server?.remove();
  });

  it('refuses a webhook at once (a Redis error the API answers 503), instead of holding it in memory until Redis is back', async () => {
    await server.stop();
    const event = { type: 'batch.done', batchId: 'b', instanceId: 'i', counts: { pending: 0, completed: 1, failed: 0, invalid: 0 } } as const;
    const outcome = await Promise.race([
      followers.outbox!.send('https://hooks.example/x', event).then(
        () => 'sent',
        (error: unknown) => error,
      ),
      new Promise((resolve) => setTimeout(resolve, 20_000, 'still waiting')),
    ]);
    expect(isRedisUnavailable(outcome), String(outcome)).toBe(true);
  });
});
