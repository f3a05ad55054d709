/**
 * The batch route end to end: a batch of mixed items over the real stack (two workers), each
 * item's outcome, shared downloads, pages, item content, and a waiting client served while the
 * batch still runs.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BatchStatus } from '@wamedia/shared';
import { downloadBody, eventually } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import { corrupt, type PublishedMedia } from '../support/fake-cdn.js';
import { gate } from '../support/gate.js';

const INSTANCE = 'batch-owner';
const OTHER_INSTANCE = 'someone-else';

describe('POST .../media/batch', () => {

  const suite = useCdnStack({ workers: 2, env: { WORKER_CONCURRENCY: '4' } });

  const submit = (body: unknown, instanceId = INSTANCE) =>
    suite.api.call('POST', `/api/v2/instance/${instanceId}/media/batch`, { instanceId, body: JSON.stringify(body) });

  async function waitUntilDone(batchId: string): Promise<BatchStatus> {
    return eventually(
      async () => {
        const status = (await suite.api.get(`/api/v2/instance/${INSTANCE}/media/batch/${batchId}?limit=1000`, INSTANCE)).json<BatchStatus>();
        return status.done ? status : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the batch finishing' },
    );
  }

  describe('a batch of 500 mixed items', () => {
    interface Expected {
      id: string;
      status: 'completed' | 'failed' | 'invalid';
      media?: PublishedMedia;
      statusCode?: number;
    }
    const expected: Expected[] = [];
    let items: unknown[];
    let accepted: BatchStatus;
    let finished: BatchStatus;
    let synchronous: { status: number; sha256: string; answeredBeforeBatchDone: boolean };
    const shared: PublishedMedia[] = [];
    let syncMedia: PublishedMedia;

    beforeAll(async () => {
      items = [];
      const add = (id: string, body: unknown, outcome: Omit<Expected, 'id'>) => {
        items.push({ id, ...(body as object) });
        expected.push({ id, ...outcome });
      };
      // Slow enough that the batch is still running when the synchronous client asks.
      const drip = { kind: 'serve', chunkSize: 256, chunkIntervalMs: 5 } as const;
      for (let i = 0; i < 400; i++) {
        const media = suite.cdn.publish(randomBytes(1_000 + i), 'image');
        suite.cdn.setBehaviour(media.directPathname, drip);
        add(`valid-${i}`, downloadBody(media), { status: 'completed', media });
      }
      for (let i = 0; i < 10; i++) {
        const media = suite.cdn.publish(randomBytes(2_000 + i), 'document');
        shared.push(media);
        for (let copy = 0; copy < 3; copy++) add(`dup-${i}-${copy}`, downloadBody(media), { status: 'completed', media });
      }
      for (let i = 0; i < 30; i++) {
        const media = suite.cdn.publish(randomBytes(500), 'audio');
        suite.cdn.setBehaviour(media.directPathname, { kind: 'status', status: 410 });
        suite.cdn.setBehaviour(media.urlPathname, { kind: 'status', status: 404 });
        add(`expired-${i}`, downloadBody(media), { status: 'failed', statusCode: 404 });
      }
      for (let i = 0; i < 20; i++) {
        const media = suite.cdn.publish(randomBytes(700), 'video');
        suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', body: corrupt(media.enc) });
        add(`corrupt-${i}`, downloadBody(media, { omit: ['fileEncSha256'] }), { status: 'failed', statusCode: 422 });
      }
      for (let i = 0; i < 20; i++) {
        const body = i % 2 === 0 ? { contentType: 'image', content: {} } : { contentType: 'nope', content: { mediaKey: 'AAAA' } };
        add(`invalid-${i}`, body, { status: 'invalid', statusCode: 400 });
      }
      expect(items).toHaveLength(500);

      syncMedia = suite.cdn.publish(randomBytes(4_000), 'image');
      accepted = (await submit({ items })).json<BatchStatus>();
      const sync = await suite.api.download(INSTANCE, downloadBody(syncMedia), { timeout: 30_000 });
      const afterSync = (await suite.api.get(`/api/v2/instance/${INSTANCE}/media/batch/${accepted.batchId}`, INSTANCE)).json<BatchStatus>();
      synchronous = { status: sync.status, sha256: sync.sha256(), answeredBeforeBatchDone: !afterSync.done };
      finished = await waitUntilDone(accepted.batchId);
    }, 120_000);

    it('answers 202 at once with every item, invalid ones with their 400 messages', () => {
      expect(accepted.total).toBe(500);
      expect(accepted.items).toHaveLength(500);
      expect(accepted.counts.invalid).toBe(20);
      for (const item of accepted.items.filter((i) => i.status === 'invalid')) {
        expect(item.error).toMatchObject({ statusCode: 400, error: 'Bad Request' });
        expect(item.error!.message.length).toBeGreaterThan(0);
      }
      expect(accepted.items.filter((i) => i.status !== 'invalid').every((i) => i.jobId)).toBe(true);
    });

    it('ends with the right outcome for every item', () => {
      expect(finished.counts).toEqual({ pending: 0, completed: 430, failed: 50, invalid: 20 });
      const byId = new Map(finished.items.map((item) => [item.id, item]));
      for (const want of expected) {
        const item = byId.get(want.id);
        expect(item?.status, want.id).toBe(want.status);
        if (want.status === 'completed') expect(item!.result!.sha256).toBe(want.media!.sha256);
        if (want.status === 'failed') expect(item!.error!.statusCode).toBe(want.statusCode);
      }
    });

    it('downloads a media listed several times once', () => {
      for (const media of shared) expect(suite.cdn.countMedia(media)).toBe(1);
    });

    it('answers a synchronous request made during the batch before the batch is done', () => {
      expect(synchronous.status).toBe(200);
      expect(synchronous.sha256).toBe(syncMedia.sha256);
      expect(synchronous.answeredBeforeBatchDone).toBe(true);
    });

    it('serves each completed item through its content URL, and the failure of a failed one', async () => {
      const completed = finished.items.find((item) => item.id === 'dup-3-1')!;
      expectBytes(await suite.api.get(completed.contentUrl!, INSTANCE), shared[3]!.sha256, shared[3]!.plaintext.length);
      const expired = await suite.api.get(`/api/v2/instance/${INSTANCE}/media/batch/${finished.batchId}/items/expired-0/content`, INSTANCE);
      expectError(expired, 404, /re-upload/i);
      const corrupted = await suite.api.get(`/api/v2/instance/${INSTANCE}/media/batch/${finished.batchId}/items/corrupt-0/content`, INSTANCE);
      expectError(corrupted, 422, /integrity/i);
    });

    it('pages through its items in submission order', async () => {
      const first = (await suite.api.get(`/api/v2/instance/${INSTANCE}/media/batch/${finished.batchId}?limit=200`, INSTANCE)).json<BatchStatus>();
      const second = (await suite.api.get(`/api/v2/instance/${INSTANCE}/media/batch/${finished.batchId}?offset=200&limit=300`, INSTANCE)).json<BatchStatus>();
      expect(first.items).toHaveLength(200);
      expect(first.nextOffset).toBe(200);
      expect(second.items).toHaveLength(300);
      expect(second.nextOffset).toBeUndefined();
      expect([...first.items, ...second.items].map((item) => item.id)).toEqual(finished.items.map((item) => item.id));
    });

    it('is visible to its own instance only', async () => {
      const path = `/api/v2/instance/${OTHER_INSTANCE}/media/batch/${finished.batchId}`;
      expectError(await suite.api.get(path, OTHER_INSTANCE), 404);
      expectError(await suite.api.get(`${path}/items/valid-0/content`, OTHER_INSTANCE), 404);
    });
  });

  it('lifts a batch item a waiting client asks for ahead of the rest of the batch', async () => {
    const drip = { kind: 'serve', chunkSize: 256, chunkIntervalMs: 5 } as const;
    const medias = Array.from({ length: 200 }, (_, i) => suite.cdn.publish(randomBytes(1_500 + i), 'image'));
    for (const media of medias) suite.cdn.setBehaviour(media.directPathname, drip);
    const batch = (await submit({ items: medias.map((media, i) => ({ id: `queued-${i}`, ...downloadBody(media) })) })).json<BatchStatus>();
    const last = medias.at(-1)!;
    const sync = await suite.api.download(INSTANCE, downloadBody(last), { timeout: 30_000 });
    const status = (await suite.api.get(`/api/v2/instance/${INSTANCE}/media/batch/${batch.batchId}`, INSTANCE)).json<BatchStatus>();
    expectBytes(sync, last.sha256, last.plaintext.length);
    // Without the lift, the last item of a FIFO batch would come last.
    expect(status.counts.pending).toBeGreaterThan(50);
    expect(suite.cdn.countMedia(last)).toBe(1);
    await waitUntilDone(batch.batchId);
  }, 60_000);

  it('completes an item already stored at once, with no CDN request', async () => {
    const media = suite.cdn.publish(randomBytes(3_000), 'image');
    expectBytes(await suite.api.download(INSTANCE, downloadBody(media)), media.sha256, 3_000);
    suite.cdn.resetLog();
    const status = (await submit({ items: [{ id: 'cached', ...downloadBody(media) }] })).json<BatchStatus>();
    expect(status.done).toBe(true);
    expect(status.items[0]).toMatchObject({ id: 'cached', status: 'completed', result: { sha256: media.sha256 } });
    expect(suite.cdn.count()).toBe(0);
  });

  it("checks each joining item's own fileSha256 and fileLength against the shared job's result: a wrong one fails that item alone (422)", async () => {
    const media = suite.cdn.publish(randomBytes(4_000), 'image');
    const released = gate();
    suite.cdn.enqueue(media.directPathname, { kind: 'serve', headersAfter: released.opened });
    // A request with the right hints starts the job; the batch's items join it while the CDN holds it.
    const starter = suite.api.download(INSTANCE, downloadBody(media), { timeout: 30_000 });
    await eventually(async () => (suite.cdn.count(media.directPathname) === 1 ? true : undefined), { what: 'the job started' });
    const wrongHash = randomBytes(32).toString('base64');
    const items = [
      { id: 'right', ...downloadBody(media) },
      { id: 'no-hints', ...downloadBody(media, { omit: ['fileSha256', 'fileLength'] }) },
      { id: 'wrong-hash', ...downloadBody(media, { content: { fileSha256: wrongHash } }) },
      { id: 'wrong-length', ...downloadBody(media, { content: { fileLength: media.fileLength + 1 } }) },
    ];
    const batch = (await submit({ items })).json<BatchStatus>();
    expect(batch.items.map((item) => item.status)).toEqual(['pending', 'pending', 'pending', 'pending']);
    released.open();

    expectBytes(await starter, media.sha256, media.fileLength);
    const done = await waitUntilDone(batch.batchId);
    const byId = Object.fromEntries(done.items.map((item) => [item.id, item]));
    expect(byId.right).toMatchObject({ status: 'completed', result: { sha256: media.sha256, size: media.fileLength } });
    expect(byId['no-hints']).toMatchObject({ status: 'completed', result: { sha256: media.sha256 } });
    expect(byId['wrong-hash']).toMatchObject({ status: 'failed', error: { statusCode: 422 } });
    expect(byId['wrong-hash']!.error!.message.join(' ')).toMatch(/fileSha256/);
    expect(byId['wrong-length']).toMatchObject({ status: 'failed', error: { statusCode: 422 } });
    expect(byId['wrong-length']!.error!.message.join(' ')).toMatch(new RegExp(`${media.fileLength} does not match fileLength ${media.fileLength + 1}`));
    expect(done.counts).toMatchObject({ completed: 2, failed: 2 });
    // The failed items' content routes answer their own failure; the media is stored and served to the others.
    const content = (id: string) => suite.api.get(`/api/v2/instance/${INSTANCE}/media/batch/${batch.batchId}/items/${id}/content`, INSTANCE);
    expectError(await content('wrong-hash'), 422, /fileSha256/);
    expectBytes(await content('right'), media.sha256, media.fileLength);
    expect(suite.cdn.count(media.directPathname)).toBe(1);
  });

  it.each([
    ['not an object', 'null'],
    ['items missing', {}],
    ['items empty', { items: [] }],
    ['too many items', { items: Array.from({ length: 1001 }, () => ({})) }],
    ['a callbackUrl while webhooks are off', { items: [{}], callbackUrl: 'https://example.com/hook' }],
  ])('refuses a batch with %s: 400', async (_, body) => {
    const response = await suite.api.call('POST', `/api/v2/instance/${INSTANCE}/media/batch`, {
      instanceId: INSTANCE,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    expectError(response, 400);
  });

  it('refuses another instance token: 403', async () => {
    const response = await suite.api.call('POST', `/api/v2/instance/${INSTANCE}/media/batch`, {
      token: suite.stack.token(OTHER_INSTANCE),
      body: JSON.stringify({ items: [{}] }),
    });
    expectError(response, 403);
  });
});
