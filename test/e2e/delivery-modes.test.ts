/**
 * The three response modes end to end, on both stores: `response=url` answers a link that a plain
 * HTTP client fetches without a token (a presigned URL on s3rver, a URL the API signs on a
 * folder), `response=base64` the file inside streamed JSON, on the download, job content and batch
 * item content routes; the batch status route with `links=1`. Links are only ever to media the
 * instance itself was served, and a signed link that does not hold is a 403 that says nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiFileLinks, FileLinkSignature } from '@wamedia/server';
import { mediaFileName, type BatchStatus, type MediaBase64, type MediaLink } from '@wamedia/shared';
import { downloadBody, eventually, type ApiResponse } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectError } from '../support/expectations.js';
import type { PublishedMedia } from '../support/fake-cdn.js';

const INSTANCE = 'links-a';
const OTHER_INSTANCE = 'links-b';
const SIGNED_URL_SECRET = `links-${randomBytes(12).toString('hex')}`;
const TTL_SECONDS = 900;
const BASE64_MAX_BYTES = 100_000;

const downloadPath = (instance: string, query: string) => `/api/v2/instance/${instance}/media/directly-download${query}`;

/** GETs a link with a plain HTTP client: no token, nothing but the URL (and `headers`). */
async function fetchLink(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { response, body: Buffer.from(await response.arrayBuffer()) };
}

const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe.each(['fs', 's3'] as const)('response modes on the %s store', (storage) => {
  const suite = useCdnStack({
    storage,
    env: {
      SIGNED_URL_SECRET,
      SIGNED_URL_TTL_SECONDS: String(TTL_SECONDS),
      BASE64_MAX_BYTES: String(BASE64_MAX_BYTES),
    },
  });

  /** POST directly-download with a query string, as `instance`. */
  const download = (media: PublishedMedia, query: string, instance = INSTANCE, body: unknown = downloadBody(media, { mimetype: 'image/png' })) =>
    suite.api.call('POST', downloadPath(instance, query), { instanceId: instance, body: JSON.stringify(body) });

  function expectLink(response: ApiResponse, media: PublishedMedia, mimetype: string, ttlSeconds = TTL_SECONDS): MediaLink {
    expect(response.status, response.body.toString()).toBe(200);
    expect(response.header('content-type')).toMatch(/^application\/json/);
    expect(response.header('cache-control')).toBe('no-store');
    const link = response.json<MediaLink>();
    expect(link).toEqual({
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\//),
      expiresAt: expect.any(String),
      sha256: media.sha256,
      size: media.fileLength,
      mimetype,
      fileName: mediaFileName(media.contentType, media.sha256, mimetype),
    });
    const lifetime = Date.parse(link.expiresAt) - Date.now();
    expect(lifetime).toBeLessThanOrEqual(ttlSeconds * 1000);
    expect(lifetime).toBeGreaterThan((ttlSeconds - 30) * 1000);
    return link;
  }

  async function expectLinkServes(link: MediaLink, media: PublishedMedia) {
    const { response, body } = await fetchLink(link.url);
    expect(response.status).toBe(200);
    expect(body.equals(media.plaintext)).toBe(true);
    expect(response.headers.get('content-type')).toBe(link.mimetype);
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename=${link.fileName}`);
  }

  describe('response=url', () => {
    it('answers a link that serves the verified file to a client without a token', async () => {
      const media = suite.cdn.publish(randomBytes(60_000), 'image');
      const link = expectLink(await download(media, '?response=url'), media, 'image/png');
      const where = new URL(link.url);
      if (storage === 's3') expect(where.pathname).toMatch(new RegExp(`/sha256/${media.sha256}$`));
      else expect(where.pathname).toBe(`/media/files/${media.sha256}`);
      await expectLinkServes(link, media);
      expect(suite.cdn.countMedia(media)).toBe(1);
    });

    it('makes a shorter link when asked with ttl', async () => {
      const media = suite.cdn.publish(randomBytes(2_000), 'image');
      expectLink(await download(media, '?response=url&ttl=60'), media, 'image/png', 60);
    });

    it('serves a Range of the link (and on the API, If-None-Match with 304)', async () => {
      const media = suite.cdn.publish(randomBytes(30_000), 'document');
      const link = expectLink(await download(media, '?response=url', INSTANCE, downloadBody(media)), media, 'application/octet-stream');
      const ranged = await fetchLink(link.url, { range: 'bytes=1000-1999' });
      expect(ranged.response.status).toBe(206);
      expect(ranged.body.equals(media.plaintext.subarray(1000, 2000))).toBe(true);
      if (storage === 'fs') {
        const { response } = await fetchLink(link.url, { 'if-none-match': `"${media.sha256}"` });
        expect(response.status).toBe(304);
        expect(response.headers.get('etag')).toBe(`"${media.sha256}"`);
      }
    });

    it('answers 202 while the job runs, whose content URL answers the link once it is done', async () => {
      const media = suite.cdn.publish(randomBytes(8_000), 'video');
      suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', headerDelayMs: 500 });
      const accepted = await download(media, '?response=url&ttl=120&timeout=0', INSTANCE, downloadBody(media));
      expect(accepted.status).toBe(202);
      const { contentUrl } = accepted.json<{ contentUrl: string }>();
      expect(contentUrl).toMatch(/\/content\?response=url&ttl=120$/);
      const answer = await eventually(
        async () => {
          const polled = await suite.api.get(contentUrl, INSTANCE);
          return polled.status === 202 ? undefined : polled;
        },
        { what: 'the job content' },
      );
      await expectLinkServes(expectLink(answer, media, 'video/mp4', 120), media);
    });
  });

  describe('response=base64', () => {
    it('answers the file inside JSON, with an exact Content-Length', async () => {
      const media = suite.cdn.publish(randomBytes(BASE64_MAX_BYTES - 1), 'audio');
      const response = await download(media, '?response=base64', INSTANCE, downloadBody(media, { mimetype: 'audio/ogg; codecs=opus' }));
      expect(response.status, response.body.toString().slice(0, 300)).toBe(200);
      expect(response.header('content-type')).toMatch(/^application\/json/);
      expect(response.header('content-length')).toBe(String(response.body.length));
      const body = response.json<MediaBase64>();
      expect(body).toEqual({
        mimetype: 'audio/ogg; codecs=opus',
        fileName: mediaFileName('audio', media.sha256, 'audio/ogg'),
        size: media.fileLength,
        sha256: media.sha256,
        base64: expect.any(String),
      });
      expect(Buffer.from(body.base64, 'base64').equals(media.plaintext)).toBe(true);
    });

    it('answers an empty media with an empty string', async () => {
      const media = suite.cdn.publish(Buffer.alloc(0), 'document');
      const response = await download(media, '?response=base64', INSTANCE, downloadBody(media));
      expect(response.json<MediaBase64>()).toMatchObject({ size: 0, base64: '', sha256: sha256Of(Buffer.alloc(0)) });
    });

    it('refuses a media over BASE64_MAX_BYTES with 413 naming the limit and response=url', async () => {
      const media = suite.cdn.publish(randomBytes(BASE64_MAX_BYTES + 1), 'document');
      expectError(await download(media, '?response=base64'), 413, new RegExp(`${BASE64_MAX_BYTES} bytes`), /BASE64_MAX_BYTES/, /response=url/);
      // The media itself is stored and served, as a link or as the file.
      expect((await download(media, '?response=url')).status).toBe(200);
      expect((await download(media, '')).status).toBe(200);
    });
  });

  describe('batches', () => {
    let media: PublishedMedia[];
    let batch: BatchStatus;
    const statusPath = () => `/api/v2/instance/${INSTANCE}/media/batch/${batch.batchId}`;

    beforeAll(async () => {
      media = [0, 1].map((i) => suite.cdn.publish(randomBytes(5_000 + i), 'image'));
      const items = [...media.map((m, i) => ({ id: `m-${i}`, ...downloadBody(m) })), { id: 'bad', contentType: 'nope', content: {} }];
      const submitted = await suite.api.call('POST', `/api/v2/instance/${INSTANCE}/media/batch`, { instanceId: INSTANCE, body: JSON.stringify({ items }) });
      batch = submitted.json<BatchStatus>();
      await eventually(async () => ((await suite.api.get(statusPath(), INSTANCE)).json<BatchStatus>().done ? true : undefined), {
        what: 'the batch finishing',
      });
    });

    it('lists each completed item with its link with links=1, and none without', async () => {
      const plain = (await suite.api.get(statusPath(), INSTANCE)).json<BatchStatus>();
      expect(plain.items.every((item) => item.link === undefined)).toBe(true);
      const linked = (await suite.api.get(`${statusPath()}?links=1&ttl=300`, INSTANCE)).json<BatchStatus>();
      expect(linked.items.find((item) => item.id === 'bad')!.link).toBeUndefined();
      for (const [i, m] of media.entries()) {
        const item = linked.items.find((candidate) => candidate.id === `m-${i}`)!;
        expect(item.link).toMatchObject({ sha256: m.sha256, size: m.fileLength, mimetype: 'image/jpeg' });
        expect(Date.parse(item.link!.expiresAt) - Date.now()).toBeLessThanOrEqual(300_000);
        await expectLinkServes(item.link!, m);
      }
    });

    it('answers an item as a link or as base64', async () => {
      const content = `${statusPath()}/items/m-1/content`;
      await expectLinkServes(expectLink(await suite.api.get(`${content}?response=url`, INSTANCE), media[1]!, 'image/jpeg'), media[1]!);
      const base64 = (await suite.api.get(`${content}?response=base64`, INSTANCE)).json<MediaBase64>();
      expect(Buffer.from(base64.base64, 'base64').equals(media[1]!.plaintext)).toBe(true);
      expectError(await suite.api.get(`${statusPath()}/items/bad/content?response=url`, INSTANCE), 400);
    });

    it("gives another instance no link to this batch's items", async () => {
      const other = `/api/v2/instance/${OTHER_INSTANCE}/media/batch/${batch.batchId}`;
      expectError(await suite.api.get(`${other}?links=1`, OTHER_INSTANCE), 404);
      expectError(await suite.api.get(`${other}/items/m-0/content?response=url`, OTHER_INSTANCE), 404);
    });
  });

  describe('entitlement', () => {
    it("mints no link for another instance to a file it never downloaded: not by the job, nor by the file's hash", async () => {
      const media = suite.cdn.publish(randomBytes(4_000), 'image');
      const accepted = await download(media, '?response=url&timeout=0', INSTANCE, downloadBody(media));
      const { jobId } = accepted.json<{ jobId: string }>();
      await eventually(async () => ((await suite.api.get(`/api/v2/instance/${INSTANCE}/media/jobs/${jobId}`, INSTANCE)).json().status === 'completed' ? true : undefined), {
        what: 'the job completing',
      });
      // The job is this instance's only.
      expectError(await suite.api.get(`/api/v2/instance/${OTHER_INSTANCE}/media/jobs/${jobId}/content?response=url`, OTHER_INSTANCE), 404);
      // The file's hashes and CDN reference without its mediaKey: no cache hit, the download fails its checks.
      const guess = downloadBody(media, { content: { mediaKey: randomBytes(32).toString('base64') } });
      const refused = await download(media, '?response=url', OTHER_INSTANCE, guess);
      expectError(refused, 422, /integrity/);
      expect(refused.body.toString()).not.toContain('"url"');
    });
  });

  describe('bad queries', () => {
    it.each([
      ['response=zip', /response: must be one of file, url, base64/],
      ['response=url&response=base64', /response: must be one of/],
      ['response=url&ttl=0', /ttl: must be 1 or more/],
      [`response=url&ttl=${TTL_SECONDS + 1}`, new RegExp(`ttl: must be at most ${TTL_SECONDS}`)],
      ['response=url&ttl=1.5', /ttl: must be a whole number/],
      ['ttl=60', /ttl: only goes with response=url/],
      ['response=base64&ttl=60', /ttl: only goes with response=url/],
    ])('answers ?%s with 400 in the error shape', async (query, message) => {
      const media = suite.cdn.publish(randomBytes(100), 'image');
      const before = suite.cdn.count();
      expectError(await download(media, `?${query}`), 400, message);
      // Refused before anything is looked up or downloaded.
      expect(suite.cdn.count()).toBe(before);
    });

    it('answers bad links and ttl queries of the batch status with 400', async () => {
      const path = `/api/v2/instance/${INSTANCE}/media/batch/${crypto.randomUUID()}`;
      expectError(await suite.api.get(`${path}?links=2`, INSTANCE), 400, /links: must be 1 or 0/);
      expectError(await suite.api.get(`${path}?ttl=5`, INSTANCE), 400, /ttl: only goes with links=1/);
      expectError(await suite.api.get(`/api/v2/instance/${INSTANCE}/media/jobs/dl-${'0'.repeat(64)}/content?response=link`, INSTANCE), 400);
    });
  });
});

describe('links the API signs (folder storage)', () => {
  const publicBase = 'http://media.example.test/prefix';
  const suite = useCdnStack({ env: { SIGNED_URL_SECRET, PUBLIC_BASE_URL: `${publicBase}/` } });
  let media: PublishedMedia;
  let link: MediaLink;
  /** The link's URL on the stack's API: PUBLIC_BASE_URL names a proxy that is not running here. */
  let url: URL;

  beforeAll(async () => {
    media = suite.cdn.publish(randomBytes(20_000), 'document');
    const answer = await suite.api.call('POST', downloadPath(INSTANCE, '?response=url'), {
      instanceId: INSTANCE,
      body: JSON.stringify(downloadBody(media, { mimetype: 'application/pdf' })),
    });
    link = answer.json<MediaLink>();
    url = new URL(link.url.slice(publicBase.length), suite.stack.baseUrl);
  });

  /** The stack's link with query parameter `name` set to `value` (deleted when undefined). */
  function withParam(name: string, value: string | undefined): string {
    const changed = new URL(url);
    if (value === undefined) changed.searchParams.delete(name);
    else changed.searchParams.set(name, value);
    return changed.href;
  }

  /** A link the API's key signs, made here: for an expiry in the past, or a file the store lacks. */
  function signedHere(sha256: string, signedAtMs: number, ttlSeconds = 60): Promise<MediaLink> {
    const links = new ApiFileLinks(new FileLinkSignature(Buffer.from(SIGNED_URL_SECRET)), () => signedAtMs);
    return links.link({ sha256, size: 1, mimetype: 'application/pdf', fileName: 'document-x.pdf' }, { ttlSeconds, origin: suite.stack.baseUrl });
  }

  async function expectRefused(target: string, message: RegExp) {
    const { response, body } = await fetchLink(target);
    expect(response.status, body.toString()).toBe(403);
    expect(JSON.parse(body.toString())).toEqual({ message: [expect.stringMatching(message)], error: 'Forbidden', statusCode: 403 });
    // Nothing about the file: not its headers, not its name, size or type.
    expect(response.headers.get('etag')).not.toBe(`"${media.sha256}"`);
    expect(response.headers.get('content-disposition')).toBeNull();
    for (const detail of [link.fileName, String(link.size), 'application/pdf']) expect(body.toString()).not.toContain(detail);
  }

  it('names PUBLIC_BASE_URL (without its trailing slash) and serves the file there', async () => {
    expect(link.url.startsWith(`${publicBase}/media/files/${media.sha256}?`)).toBe(true);
    const { response, body } = await fetchLink(url.href);
    expect(response.status).toBe(200);
    expect(body.equals(media.plaintext)).toBe(true);
    expect(response.headers.get('content-type')).toBe('application/pdf');
    expect(response.headers.get('etag')).toBe(`"${media.sha256}"`);
  });

  it.each([
    ['a tampered signature', () => withParam('sig', flipMiddle(url.searchParams.get('sig')!)), /does not match/],
    ['another file name', () => withParam('name', 'document-x.html'), /does not match/],
    ['another type', () => withParam('type', 'text/html'), /does not match/],
    ['a later expiry', () => withParam('exp', String(Number(url.searchParams.get('exp')) + 86_400)), /does not match/],
    ['another sha256', () => url.href.replace(media.sha256, sha256Of(randomBytes(8))), /does not match/],
    ['a malformed exp', () => withParam('exp', 'tomorrow'), /malformed \(exp\)/],
    ['a malformed signature', () => withParam('sig', 'not-a-signature'), /malformed \(sig\)/],
    ['a path that is not a SHA-256', () => url.href.replace(media.sha256, 'index.html'), /malformed/],
    ['no signature', () => withParam('sig', undefined), /malformed \(sig\)/],
    ['no query at all', () => `${url.origin}${url.pathname}`, /malformed/],
  ])('refuses %s with 403, saying nothing about the file', async (_what, target, message) => {
    await expectRefused(target(), message);
  });

  it('refuses an expired link with 403', async () => {
    const expired = await signedHere(media.sha256, Date.now() - 3600_000, 60);
    await expectRefused(expired.url, /expired at/);
  });

  it('answers a valid link to a file the store does not hold with 404', async () => {
    const missing = await signedHere(sha256Of(randomBytes(16)), Date.now());
    expectError(await suite.api.call('GET', new URL(missing.url).pathname + new URL(missing.url).search, {}), 404, /no longer stored/);
  });
});

function flipMiddle(text: string): string {
  const middle = Math.floor(text.length / 2);
  return text.slice(0, middle) + (text[middle] === 'A' ? 'B' : 'A') + text.slice(middle + 1);
}
