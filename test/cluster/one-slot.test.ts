/**
 * On a Redis Cluster every key wamedia and BullMQ write carries the prefix's hash tag, so all of
 * them sit in one slot (BullMQ's scripts and wamedia's own touch several keys at once, which a
 * cluster only allows within a slot). A stack with every feature that writes keys (limits,
 * webhooks, batches, 202 jobs, revocations) does a little of everything; then every master is
 * scanned for the stack's keys.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOWNLOAD_QUEUE, WEBHOOK_QUEUE, type BatchStatus } from '@wamedia/shared';
import { downloadBody, eventually } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { ClusterClient } from '../support/cluster-client.js';
import { expectBytes } from '../support/expectations.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const INSTANCE = 'tenant-cluster';
const SECRET = 'webhook-secret-for-the-cluster-test';
const ADMIN_TOKEN = `admin-${randomBytes(18).toString('base64url')}`;

describe('every key in one slot', () => {
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start(SECRET);
  });

  afterAll(async () => {
    await receiver?.close();
  });

  const suite = useCdnStack({
    workers: 2,
    env: () => ({
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_ALLOWED_HOSTS: receiver.origin,
      ADMIN_TOKEN,
      INSTANCE_MAX_JOBS_IN_FLIGHT: '50',
      INSTANCE_REQUESTS_PER_MINUTE: '6000',
      // The job whose CDN hangs stays in flight while the keys are looked at.
      CDN_IDLE_TIMEOUT_MS: '120000',
    }),
  });

  it('runs on the cluster, under a prefix with a hash tag', () => {
    expect(suite.stack.env.REDIS_CLUSTER_NODES).toBeTruthy();
    expect(suite.stack.env.REDIS_URL).toBeUndefined();
    expect(suite.stack.prefix).toMatch(/^\{[^{}]+\}$/);
  });

  it('keeps the queues, jobs, batches, followers, limits, webhooks and token versions of a stack in the slot of its prefix', async () => {
    await receiver.useSecretOf(suite.api, INSTANCE);
    // A download answered at once, one answered 202 whose CDN hangs (so it stays in flight), and
    // a batch with a callback.
    const served = suite.cdn.publish(randomBytes(3_000), 'image');
    expectBytes(await suite.api.download(INSTANCE, downloadBody(served)), served.sha256, served.fileLength);
    const hanging = suite.cdn.publish(randomBytes(3_000), 'document');
    suite.cdn.setBehaviour(hanging.directPathname, { kind: 'hang' });
    suite.cdn.setBehaviour(hanging.urlPathname, { kind: 'hang' });
    expect((await suite.api.download(INSTANCE, downloadBody(hanging), { timeout: 0 })).status).toBe(202);
    const medias = [0, 1].map((i) => suite.cdn.publish(randomBytes(1_000 + i), 'audio'));
    const submitted = await suite.api.call('POST', `/api/v2/instance/${INSTANCE}/media/batch`, {
      instanceId: INSTANCE,
      body: JSON.stringify({ items: medias.map((media, i) => ({ id: `item-${i}`, ...downloadBody(media) })), callbackUrl: `${receiver.origin}/hook` }),
    });
    expect(submitted.status, submitted.body.toString()).toBeLessThan(300);
    await eventually(async () => (receiver.events('/hook').some((event) => event.type === 'batch.done') ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the batch.done webhook',
    });
    const revoked = await fetch(`${suite.stack.baseUrl}/admin/instances/${INSTANCE}/revoke-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(revoked.status).toBe(200);
    const batch = submitted.json<BatchStatus>();

    const redis = await ClusterClient.connect(suite.stack.env.REDIS_CLUSTER_NODES!, suite.stack.env.REDIS_CLUSTER_PASSWORD);
    try {
      const byMaster = await redis.keysByMaster(`${suite.stack.prefix}:*`);
      expect(byMaster.size).toBe(3);
      const holding = [...byMaster].filter(([, keys]) => keys.length > 0);
      expect(holding.map(([master]) => master), 'the masters holding keys of the stack').toHaveLength(1);
      const keys = holding[0]![1];
      const prefix = suite.stack.prefix;
      for (const part of [
        `${DOWNLOAD_QUEUE}:`,
        `${WEBHOOK_QUEUE}:`,
        `batch:${batch.batchId}`,
        'job-owners:',
        'job-ended:',
        `in-flight:single:${INSTANCE}`,
        `request-rate:${INSTANCE}`,
        `token-version:${INSTANCE}`,
      ]) {
        expect(keys.some((key) => key.startsWith(`${prefix}:${part}`)), `a key ${prefix}:${part}…`).toBe(true);
      }
      const slots = new Set(await Promise.all(keys.map((key) => redis.slotOf(key))));
      expect([...slots]).toEqual([await redis.slotOf(prefix)]);
    } finally {
      await redis.close();
    }
  });
});
