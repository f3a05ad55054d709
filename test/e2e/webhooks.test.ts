/**
 * Webhooks end to end: a batch (and a single request answered 202) with a callback URL; the
 * workers POST signed events that the receiver verifies, retry a failing receiver, and refuse
 * a receiver on a host outside WEBHOOK_ALLOWED_HOSTS. The receiver verifies with the instance's
 * own secret, read from the API with the instance's token.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook, type BatchStatus } from '@wamedia/shared';
import { downloadBody, eventually } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectError } from '../support/expectations.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const INSTANCE = 'hooked';
const SECRET = 'webhook-secret-for-the-e2e-test';

describe('webhooks', () => {
  let receiver: WebhookReceiver;
  let outsider: WebhookReceiver;

  beforeAll(async () => {
    [receiver, outsider] = await Promise.all([WebhookReceiver.start(SECRET), WebhookReceiver.start(SECRET, '127.0.0.2')]);
  });

  afterAll(async () => {
    await Promise.all([receiver?.close(), outsider?.close()]);
  });

  const suite = useCdnStack({
    env: () => ({ WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOWED_HOSTS: receiver.origin, WEBHOOK_ATTEMPTS: '4' }),
  });

  beforeAll(async () => {
    await receiver.useSecretOf(suite.api, INSTANCE);
  });

  const submit = (body: unknown) =>
    suite.api.call('POST', `/api/v2/instance/${INSTANCE}/media/batch`, { instanceId: INSTANCE, body: JSON.stringify(body) });

  /**
   * The events POSTed to `path` once batch.done and `items` batch.item events are in: they are
   * delivered concurrently, so batch.done may arrive before the last batch.item.
   */
  const batchEvents = (path: string, items: number) =>
    eventually(async () => {
      const got = receiver.events(path);
      const done = got.some((event) => event.type === 'batch.done') && got.filter((event) => event.type === 'batch.item').length >= items;
      return done ? got : undefined;
    }, { timeoutMs: 20_000, what: `${items} batch.item webhooks and batch.done on ${path}` });

  it('POSTs a signed event per finished item and one when the batch is done', async () => {
    const medias = [0, 1, 2].map((i) => suite.cdn.publish(randomBytes(1_000 + i), 'image'));
    const expired = suite.cdn.publish(randomBytes(100), 'audio');
    suite.cdn.setBehaviour(expired.directPathname, { kind: 'status', status: 404 });
    suite.cdn.setBehaviour(expired.urlPathname, { kind: 'status', status: 404 });
    const items = [...medias.map((media, i) => ({ id: `ok-${i}`, ...downloadBody(media) })), { id: 'gone', ...downloadBody(expired) }];
    const batch = (await submit({ items, callbackUrl: `${receiver.origin}/batch-hook` })).json<BatchStatus>();

    const events = await batchEvents('/batch-hook', 4);
    const delivered = receiver.deliveries.filter((d) => d.path === '/batch-hook');
    expect(delivered.every((d) => d.verified)).toBe(true);
    // Signed for this instance alone: neither WEBHOOK_SECRET itself nor another instance's secret verifies them.
    const otherSecret = (await suite.api.get('/api/v2/instance/someone-else/webhook-secret', 'someone-else')).json<{ secret: string }>().secret;
    expect(otherSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(otherSecret).not.toBe(receiver.secret);
    for (const secret of [otherSecret, SECRET]) expect(delivered.some((d) => verifyWebhook(secret, d.body, d.signature))).toBe(false);
    const itemEvents = events.filter((event) => event.type === 'batch.item');
    expect(itemEvents.map((event) => event.item.id).sort()).toEqual(['gone', 'ok-0', 'ok-1', 'ok-2']);
    for (const event of itemEvents) expect(event).toMatchObject({ batchId: batch.batchId, instanceId: INSTANCE });
    const ok = itemEvents.find((event) => event.item.id === 'ok-1')!;
    expect(ok.item).toMatchObject({ status: 'completed', result: { sha256: medias[1]!.sha256 } });
    expect(ok.item.contentUrl).toContain(`/batch/${batch.batchId}/items/ok-1/content`);
    // No links unless the batch asked for them.
    expect(itemEvents.every((event) => event.item.link === undefined)).toBe(true);
    expect(itemEvents.find((event) => event.item.id === 'gone')!.item).toMatchObject({ status: 'failed', error: { statusCode: 404 } });
    expect(events.filter((event) => event.type === 'batch.done')).toEqual([
      { type: 'batch.done', batchId: batch.batchId, instanceId: INSTANCE, counts: { pending: 0, completed: 3, failed: 1, invalid: 0 } },
    ]);
    // Each batch event has an id of its own, which a repeat after an outage would keep.
    const ids = delivered.map((d) => d.deliveryId).sort();
    expect(ids).toEqual([0, 1, 2, 3].map((index) => `batch-${batch.batchId}-item-${index}`).concat(`batch-${batch.batchId}-done`).sort());
  });

  it('carries each completed item\'s link in its event when the batch asked for links, which a plain client fetches', async () => {
    const media = suite.cdn.publish(randomBytes(3_000), 'image');
    const stored = suite.cdn.publish(randomBytes(2_000), 'document');
    // Stored before the batch: its item completes (and its event goes out) while the batch is submitted.
    expect((await suite.api.download(INSTANCE, downloadBody(stored))).status).toBe(200);
    const expired = suite.cdn.publish(randomBytes(100), 'audio');
    suite.cdn.setBehaviour(expired.directPathname, { kind: 'status', status: 404 });
    suite.cdn.setBehaviour(expired.urlPathname, { kind: 'status', status: 404 });
    const items = [
      { id: 'fresh', ...downloadBody(media) },
      { id: 'stored', ...downloadBody(stored) },
      { id: 'gone', ...downloadBody(expired) },
    ];
    await submit({ items, callbackUrl: `${receiver.origin}/linked`, links: true });
    const events = await batchEvents('/linked', 3);
    // Events with links are signed with the instance's own secret like every other.
    expect(receiver.deliveries.filter((d) => d.path === '/linked').every((d) => d.verified)).toBe(true);
    const item = (id: string) => events.flatMap((event) => (event.type === 'batch.item' && event.item.id === id ? [event.item] : []))[0]!;
    expect(item('gone').link).toBeUndefined();
    for (const [id, published] of [['fresh', media], ['stored', stored]] as const) {
      const { link } = item(id);
      expect(link, id).toMatchObject({ sha256: published.sha256, size: published.fileLength });
      // The API's own origin: the batch was submitted to it, and PUBLIC_BASE_URL is unset.
      expect(link!.url.startsWith(`${suite.stack.baseUrl}/media/files/${published.sha256}?`)).toBe(true);
      const response = await fetch(link!.url);
      expect(Buffer.from(await response.arrayBuffer()).equals(published.plaintext), id).toBe(true);
    }
  });

  it('refuses "links": true without a callbackUrl: 400', async () => {
    const media = suite.cdn.publish(randomBytes(100), 'image');
    expectError(await submit({ items: [{ id: 'x', ...downloadBody(media) }], links: true }), 400, /links: only goes with a callbackUrl/);
  });

  it('reports a batch done once when its last item finishes while the batch is being submitted', async () => {
    const expired = suite.cdn.publish(randomBytes(100), 'audio');
    suite.cdn.setBehaviour(expired.directPathname, { kind: 'status', status: 404 });
    suite.cdn.setBehaviour(expired.urlPathname, { kind: 'status', status: 404 });
    // The media's job has just failed: the batch item joins it and finishes while it is followed.
    expect((await suite.api.download(INSTANCE, downloadBody(expired))).status).toBe(404);
    const batch = (await submit({ items: [{ id: 'gone', ...downloadBody(expired) }], callbackUrl: `${receiver.origin}/ended` })).json<BatchStatus>();
    expect(batch.done).toBe(true);
    const done = await eventually(async () => {
      const got = receiver.events('/ended').filter((event) => event.type === 'batch.done');
      return got.length ? got : undefined;
    }, { timeoutMs: 10_000, what: 'the batch.done webhook' });
    // Give a second (wrong) delivery the time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(receiver.events('/ended').filter((event) => event.type === 'batch.done')).toHaveLength(done.length);
    expect(done).toHaveLength(1);
  });

  it('retries a receiver that answers 500, until it takes the event', async () => {
    receiver.failFirst.set('/flaky', 2);
    const media = suite.cdn.publish(randomBytes(2_000), 'document');
    await submit({ items: [{ id: 'one', ...downloadBody(media) }], callbackUrl: `${receiver.origin}/flaky` });
    await eventually(async () => (receiver.events('/flaky').length === 2 ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the retried webhooks',
    });
    expect(receiver.hits.get('/flaky')).toBe(4);
    expect(receiver.deliveries.filter((d) => d.path === '/flaky').every((d) => d.verified)).toBe(true);
  });

  it('POSTs job.finished for a single request that was answered 202', async () => {
    const media = suite.cdn.publish(randomBytes(3_000), 'video');
    suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', bodyDelayMs: 600 });
    const body = { ...downloadBody(media), callbackUrl: `${receiver.origin}/single` };
    const accepted = await suite.api.download(INSTANCE, body, { timeout: 0 });
    expect(accepted.status).toBe(202);
    const [event] = await eventually(async () => {
      const got = receiver.events('/single');
      return got.length ? got : undefined;
    }, { timeoutMs: 20_000, what: 'the job.finished webhook' });
    expect(event).toMatchObject({ type: 'job.finished', jobId: accepted.json().jobId, status: 'completed', result: { sha256: media.sha256 } });
  });

  it("gives each instance its own webhook secret, to its own token only", async () => {
    const path = `/api/v2/instance/${INSTANCE}/webhook-secret`;
    const answer = await suite.api.get(path, INSTANCE);
    expect(answer.header('cache-control')).toBe('no-store');
    expect(answer.json()).toEqual({ secret: receiver.secret });
    expectError(await suite.api.get(path, INSTANCE, { token: suite.stack.token('someone-else') }), 403);
    expectError(await suite.api.get(path, INSTANCE, { token: 'not-a-token' }), 401);
  });

  it('refuses a callback URL on a host outside WEBHOOK_ALLOWED_HOSTS with 400, and never calls it', async () => {
    const media = suite.cdn.publish(randomBytes(500), 'image');
    for (const callbackUrl of [`${outsider.origin}/hook`, 'http://169.254.169.254/latest/meta-data', 'http://localhost:1/hook']) {
      expectError(await submit({ items: [{ id: 'x', ...downloadBody(media) }], callbackUrl }), 400, /callback|not allowed/i);
    }
    expect(outsider.hits.size).toBe(0);
  });
});
