/**
 * Channel (newsletter) media end to end: published unencrypted, without a mediaKey, and served by
 * the fake CDN in clear. It is downloaded as it is and checked against its fileSha256 (and
 * fileLength), nothing stored when they disagree; and it lives in a cache namespace of its own,
 * so the same file stored through an encrypted reference never answers a request without a
 * mediaKey, nor the other way round.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BatchStatus } from '@wamedia/shared';
import { downloadBody, eventually } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import { corrupt, type PublishedPlainMedia } from '../support/fake-cdn.js';
import { gate } from '../support/gate.js';
import { waitingRequests } from '../support/prometheus.js';

const INSTANCE = 'instance-channels';

describe('channel media', () => {
  const suite = useCdnStack();

  /** The reference of a channel media: no mediaKey, no fileEncSha256. */
  function channelBody(media: PublishedPlainMedia, content: Record<string, unknown> = {}) {
    const { url, directPath, fileSha256, fileLength } = media;
    return { contentType: media.contentType, content: { url, directPath, fileSha256, fileLength, mimetype: 'image/jpeg', ...content } };
  }

  const download = (body: unknown) => suite.api.download(INSTANCE, body);
  const countOf = (media: Pick<PublishedPlainMedia, 'directPathname' | 'urlPathname'>) => suite.cdn.countMedia(media);

  /** The store holds the same files as `before`: nothing of the media, no temporary left over. */
  async function expectNothingStored(sha256: string, before: string[]) {
    const after = await suite.stack.storedFiles();
    expect(after.filter((file) => file.includes(sha256))).toEqual([]);
    expect(after.filter((file) => /(^|\/)tmp\//.test(file))).toEqual([]);
    expect(after).toEqual(before);
  }

  it('downloads it as it is, checked by fileSha256 and fileLength, and serves it again from the cache', async () => {
    // 80 000 bytes: no .enc has that length (whole blocks and a MAC); a channel media's file may.
    const media = suite.cdn.publishPlain(randomBytes(80_000), 'image');
    expectBytes(await download(channelBody(media)), media.sha256, 80_000);
    expect(countOf(media)).toBe(1);
    expect((await suite.stack.storedFiles()).filter((file) => file.includes(media.sha256))).toHaveLength(1);
    const again = await download(channelBody(media, { url: undefined }));
    expectBytes(again, media.sha256, 80_000);
    expect(again.header('etag')).toBe(`"${media.sha256}"`);
    expect(countOf(media)).toBe(1);
  });

  it('reads a channel message, whose media has no mediaKey', async () => {
    const media = suite.cdn.publishPlain(randomBytes(12_000), 'video');
    const { url, directPath, fileSha256, fileLength } = media;
    const message = {
      key: { remoteJid: '120363000000000000@newsletter', fromMe: false, id: '3EB0AB12CD34' },
      message: { videoMessage: { url, directPath, fileSha256, fileLength, mimetype: 'video/mp4', seconds: 3, caption: 'news' } },
    };
    const response = await download({ message });
    expectBytes(response, media.sha256, 12_000);
    expect(response.header('content-type')).toBe('video/mp4');
  });

  it('answers a channel message whose media expired with 404 at once: without a mediaKey there is no re-upload to wait for', async () => {
    const media = suite.cdn.publishPlain(randomBytes(1_000), 'image');
    suite.cdn.setBehaviour(media.directPathname, { kind: 'status', status: 404 });
    suite.cdn.setBehaviour(media.urlPathname, { kind: 'status', status: 410 });
    const { url, directPath, fileSha256 } = media;
    const message = { key: { remoteJid: '120363000000000000@newsletter', fromMe: false, id: '3EB0EE77' }, message: { imageMessage: { url, directPath, fileSha256 } } };
    // A job waiting for a re-upload would answer 202 when the 5 s run out.
    expectError(await suite.api.download(INSTANCE, { message }, { timeout: 5_000 }), 404, /expired/);
  });

  it('answers bytes that do not match fileSha256 with 422 and stores nothing', async () => {
    const media = suite.cdn.publishPlain(randomBytes(30_000), 'image');
    suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', body: corrupt(media.plaintext) });
    const before = await suite.stack.storedFiles();
    expectError(await download(channelBody(media, { url: undefined })), 422, /^integrity check failed: SHA-256 of the downloaded file does not match fileSha256$/);
    expect(countOf(media)).toBe(1);
    await expectNothingStored(media.sha256, before);
  });

  it('answers a file of another length than fileLength with 422 and stores nothing', async () => {
    const media = suite.cdn.publishPlain(randomBytes(30_000), 'document');
    const before = await suite.stack.storedFiles();
    expectError(await download(channelBody(media, { fileLength: 30_001 })), 422, /downloaded length 30000 does not match fileLength 30001/);
    await expectNothingStored(media.sha256, before);
  });

  it.each([
    ['a reference', () => ({ contentType: 'image', content: { directPath: '/m1/v/t24.15575-24/x' } }), /^content\.mediaKey: is required; media without one \(channel media, not encrypted\) needs a fileSha256 instead$/],
    ['a message', () => ({ message: { imageMessage: { directPath: '/m1/v/t24.15575-24/x', fileLength: 3 } } }), /^message\.imageMessage\.mediaKey: is required; .* needs a fileSha256 instead$/],
  ])('answers %s with neither a mediaKey nor a fileSha256 with 400, and asks the CDN nothing', async (_, body, message) => {
    const before = suite.cdn.count();
    expectError(await download(body()), 400, message);
    expect(suite.cdn.count()).toBe(before);
  });

  it('is a batch item like any other', async () => {
    const plain = suite.cdn.publishPlain(randomBytes(9_000), 'image');
    const encrypted = suite.cdn.publish(randomBytes(9_000), 'image');
    const submitted = await suite.api.call('POST', `/api/v2/instance/${INSTANCE}/media/batch`, {
      instanceId: INSTANCE,
      body: JSON.stringify({ items: [{ id: 'plain', ...channelBody(plain) }, { id: 'encrypted', ...downloadBody(encrypted) }] }),
    });
    const { batchId } = submitted.json<BatchStatus>();
    const done = await eventually(
      async () => {
        const status = (await suite.api.get(`/api/v2/instance/${INSTANCE}/media/batch/${batchId}`, INSTANCE)).json<BatchStatus>();
        return status.done ? status : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the batch finishing' },
    );
    expect(done.items.map((item) => [item.id, item.status, item.result?.sha256])).toEqual([
      ['plain', 'completed', plain.sha256],
      ['encrypted', 'completed', encrypted.sha256],
    ]);
  });

  describe('its own cache namespace', () => {
    it('stored through an encrypted reference, the same file asked for without a mediaKey is downloaded and checked again', async () => {
      const file = randomBytes(40_000);
      const encrypted = suite.cdn.publish(file, 'image');
      expectBytes(await download(downloadBody(encrypted)), encrypted.sha256, 40_000);

      // Same bytes, same hash, no mediaKey: the CDN is asked, and its 404 is the answer.
      const gone = suite.cdn.publishPlain(file, 'image');
      suite.cdn.setBehaviour(gone.directPathname, { kind: 'status', status: 404 });
      suite.cdn.setBehaviour(gone.urlPathname, { kind: 'status', status: 404 });
      expectError(await download(channelBody(gone)), 404, /expired/);
      expect(countOf(gone)).toBe(2);

      const plain = suite.cdn.publishPlain(file, 'image');
      expectBytes(await download(channelBody(plain)), plain.sha256, 40_000);
      expect(countOf(plain)).toBe(1);
      expect(countOf(encrypted)).toBe(1);
      // One content address for both: the store holds the file once.
      expect((await suite.stack.storedFiles()).filter((file) => file.includes(plain.sha256))).toHaveLength(1);
    });

    it('stored from a channel, the same file asked for with a mediaKey is downloaded and decrypted again', async () => {
      const file = randomBytes(40_000);
      const plain = suite.cdn.publishPlain(file, 'document');
      expectBytes(await download(channelBody(plain)), plain.sha256, 40_000);

      const gone = suite.cdn.publish(file, 'document');
      suite.cdn.setBehaviour(gone.directPathname, { kind: 'status', status: 404 });
      suite.cdn.setBehaviour(gone.urlPathname, { kind: 'status', status: 404 });
      expectError(await download(downloadBody(gone)), 404, /expired/);

      // A mediaKey whose bytes are the file's hash finds nothing either.
      const keyedByHash = suite.cdn.publish(file, 'document', { mediaKey: Buffer.from(plain.fileSha256, 'base64') });
      expectBytes(await download(downloadBody(keyedByHash)), keyedByHash.sha256, 40_000);
      expect(countOf(keyedByHash)).toBe(1);
      expect(countOf(plain)).toBe(1);
    });
  });

  describe("each request's own hints and mimetype", () => {
    const OTHER = 'instance-channels-b';

    /**
     * Sends the starter, waits until its job is at the CDN (whose first answer waits for a gate),
     * sends the joiners from another instance, waits until they all wait on the job, then lets
     * the CDN answer; resolves with every answer, starter first.
     */
    async function joinOne(media: PublishedPlainMedia, starter: Record<string, unknown>, joiners: Record<string, unknown>[]) {
      const held = gate();
      suite.cdn.enqueue(media.directPathname, { kind: 'serve', headersAfter: held.opened });
      const first = download(channelBody(media, { url: undefined, ...starter }));
      await eventually(async () => (suite.cdn.count(media.directPathname) === 1 ? true : undefined), { what: 'the CDN request' });
      const rest = joiners.map((content) => suite.api.download(OTHER, channelBody(media, { url: undefined, ...content })));
      await eventually(async () => ((await waitingRequests(suite.stack.baseUrl)) === 1 + joiners.length ? true : undefined), {
        what: 'every request waiting on the job',
      });
      held.open();
      return Promise.all([first, ...rest]);
    }

    it("a joiner's wrong fileLength fails that request alone; the job and the others succeed", async () => {
      const media = suite.cdn.publishPlain(randomBytes(30_000), 'image');
      const [starter, wrongLength, plain] = await joinOne(media, {}, [{ fileLength: 3 }, { fileLength: undefined }]);
      expectBytes(starter!, media.sha256, 30_000);
      expectError(wrongLength!, 422, /length/i);
      expectBytes(plain!, media.sha256, 30_000);
      expect(suite.cdn.count(media.directPathname)).toBe(1);
    });

    it("the starter's wrong fileLength fails the starter; a joiner without it gets a fresh attempt, 200", async () => {
      const media = suite.cdn.publishPlain(randomBytes(20_000), 'document');
      const [starter, joiner] = await joinOne(media, { fileLength: 19_999 }, [{ fileLength: undefined }]);
      expectError(starter!, 422, /length/i);
      expectBytes(joiner!, media.sha256, 20_000);
      expect(suite.cdn.count(media.directPathname)).toBe(2);
    });

    it("checks a message's mimetype as a reference's, and never serves one tenant's mimetype to another", async () => {
      const media = suite.cdn.publishPlain(randomBytes(5_000), 'image');
      const { url, directPath, fileSha256, fileLength } = media;
      const message = (mimetype: string | undefined) => ({
        key: { remoteJid: '120363000000000000@newsletter', fromMe: false, id: '3EB0MIME' },
        message: { imageMessage: { url, directPath, fileSha256, fileLength, mimetype } },
      });
      expectError(await download({ message: message('image/jpeg\r\nX-Injected: 1') }), 400, /imageMessage\.mimetype: must be a media type/);
      expect(countOf(media)).toBe(0);
      const first = await download({ message: message('image/x-tenant-a; q="1"') });
      expectBytes(first, media.sha256, 5_000);
      expect(first.header('content-type')).toBe('image/x-tenant-a; q="1"');
      // The other tenant, from the cache: the type's default, then its own when it gives one.
      const other = await suite.api.download(OTHER, channelBody(media, { mimetype: undefined }));
      expectBytes(other, media.sha256, 5_000);
      expect(other.header('content-type')).toBe('image/jpeg');
      expect((await suite.api.download(OTHER, { message: message('image/png') })).header('content-type')).toBe('image/png');
      expect(countOf(media)).toBe(1);
    });
  });
});
