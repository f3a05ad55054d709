/**
 * The directly-download path end to end, on both stores: API and worker processes, Redis, the
 * store (a folder, or an s3rver bucket) and a fake CDN serving media made by the project's
 * encryptor. Every case runs once per store.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ContentType } from '@wamedia/shared';
import { downloadBody, eventually, type ApiResponse, type BodyOptions } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import { corrupt, type PublishedMedia } from '../support/fake-cdn.js';
import { gate } from '../support/gate.js';
import { waitingRequests } from '../support/prometheus.js';
import { rawExchange } from '../support/raw-http.js';
import { connectTestRedis } from '../support/stack.js';
import { isUnfinishedUpload, runS3Server } from '../support/s3-server.js';

const INSTANCE = 'instance-a';
const OTHER_INSTANCE = 'instance-b';

/** The seed's content types, each with a mimetype a phone would send and the extension it implies. */
const seeds: { contentType: ContentType; mimetype: string; size: number; extension: string }[] = [
  { contentType: 'document', mimetype: 'application/pdf', size: 100_003, extension: 'pdf' },
  { contentType: 'image', mimetype: 'image/jpeg', size: 54_211, extension: 'jpg' },
  { contentType: 'video', mimetype: 'video/mp4', size: 393_736, extension: 'mp4' },
  { contentType: 'audio', mimetype: 'audio/ogg; codecs=opus', size: 16_111, extension: 'ogg' },
  // A whole number of AES blocks: the .enc carries a whole block of padding.
  { contentType: 'sticker', mimetype: 'image/webp', size: 4_096, extension: 'webp' },
];

describe.each(['fs', 's3'] as const)('directly-download on the %s store', (storage) => {

  const suite = useCdnStack({ storage, env: { MAX_MEDIA_BYTES: String(8 * 1024 * 1024) } });

  function expectMediaHeaders(response: ApiResponse, media: PublishedMedia, mimetype: string, extension: string) {
    expect(response.header('content-type')).toBe(mimetype);
    expect(response.header('content-length')).toBe(String(media.fileLength));
    expect(response.header('etag')).toBe(`"${media.sha256}"`);
    expect(response.header('accept-ranges')).toBe('bytes');
    expect(response.header('content-disposition')).toMatch(
      new RegExp(`^attachment; filename="?${media.contentType}-${media.sha256.slice(0, 16)}\\.${extension}"?$`),
    );
  }

  describe('each seed content type', () => {
    it.each(seeds)('serves a $contentType byte-exact with its headers', async ({ contentType, mimetype, size, extension }) => {
      const media = suite.cdn.publish(randomBytes(size), contentType);
      const response = await suite.api.download(INSTANCE, downloadBody(media, { mimetype }));
      expectBytes(response, media.sha256, size);
      expectMediaHeaders(response, media, mimetype, extension);
    });

    it('serves the default Content-Type of the type when the request gives no mimetype', async () => {
      const media = suite.cdn.publish(randomBytes(3_000), 'sticker');
      const response = await suite.api.download(INSTANCE, downloadBody(media));
      expectBytes(response, media.sha256, media.fileLength);
      expectMediaHeaders(response, media, 'image/webp', 'webp');
    });

    it("serves each requester its own mimetype: one tenant's is never the cached media's type for the others", async () => {
      const media = suite.cdn.publish(randomBytes(3_000), 'image');
      // A control character would make the header unsendable: refused up front, nothing stored.
      expectError(await suite.api.download(INSTANCE, downloadBody(media, { mimetype: 'image/jpeg;\u0001' })), 400, /content\.mimetype: must be a media type/);
      expect(suite.cdn.countMedia(media)).toBe(0);
      const first = await suite.api.download(INSTANCE, downloadBody(media, { mimetype: 'image/x-tenant-a; q="1"' }));
      expectMediaHeaders(first, media, 'image/x-tenant-a; q="1"', 'bin');
      // The other tenant, from the cache: the type's default, then its own when it gives one.
      expectMediaHeaders(await suite.api.download(OTHER_INSTANCE, downloadBody(media)), media, 'image/jpeg', 'jpg');
      expectMediaHeaders(await suite.api.download(OTHER_INSTANCE, downloadBody(media, { mimetype: 'image/png' })), media, 'image/png', 'png');
      expect(suite.cdn.countMedia(media)).toBe(1);
    });

    it('downloads an empty media (one block of padding and the MAC)', async () => {
      const media = suite.cdn.publish(Buffer.alloc(0), 'document');
      const response = await suite.api.download(INSTANCE, downloadBody(media, { mimetype: 'text/plain' }));
      expectBytes(response, media.sha256, 0);
      expect(response.header('content-length')).toBe('0');
    });
  });

  describe('CDN references', () => {
    it('fetches the directPath from MEDIA_CDN_BASE_URL first, with the WhatsApp Web origin, and leaves the url alone', async () => {
      const media = suite.cdn.publish(randomBytes(20_000), 'image');
      const response = await suite.api.download(INSTANCE, downloadBody(media));
      expectBytes(response, media.sha256, media.fileLength);
      expect(suite.cdn.count(media.directPathname)).toBe(1);
      expect(suite.cdn.count(media.urlPathname)).toBe(0);
      const request = suite.cdn.requests.find((r) => r.pathname === media.directPathname)!;
      // The directPath's own query (the signed oh=/oe=) is sent as given.
      expect(request.url).toBe(media.directPath);
      expect(request.headers.origin).toBe('https://web.whatsapp.com');
    });

    it('falls back to the url when the directPath answers 404', async () => {
      const media = suite.cdn.publish(randomBytes(20_000), 'video');
      suite.cdn.setBehaviour(media.directPathname, { kind: 'status', status: 404 });
      const response = await suite.api.download(INSTANCE, downloadBody(media));
      expectBytes(response, media.sha256, media.fileLength);
      const order = suite.cdn.requests.filter((r) => [media.directPathname, media.urlPathname].includes(r.pathname));
      expect(order.map((r) => r.pathname)).toEqual([media.directPathname, media.urlPathname]);
      expect(order[1]!.url).toBe(media.url.slice(suite.cdn.origin.length));
    });

    it('downloads from the url alone when there is no directPath', async () => {
      const media = suite.cdn.publish(randomBytes(20_000), 'audio');
      const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['directPath'] }));
      expectBytes(response, media.sha256, media.fileLength);
      expect(suite.cdn.count(media.directPathname)).toBe(0);
      expect(suite.cdn.count(media.urlPathname)).toBe(1);
    });
  });

  describe('concurrency', () => {
    it('answers 200 identical concurrent requests with one CDN download and 200 identical bodies', async () => {
      const media = suite.cdn.publish(randomBytes(256 * 1024 + 5), 'video');
      // Slow enough that every request arrives while the one download is still running.
      suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', bodyDelayMs: 400 });
      const body = downloadBody(media, { mimetype: 'video/mp4' });
      const responses = await Promise.all(Array.from({ length: 200 }, () => suite.api.download(INSTANCE, body)));
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s !== 200), `statuses: ${[...new Set(statuses)].join(', ')}`).toEqual([]);
      expect(new Set(responses.map((r) => r.sha256()))).toEqual(new Set([media.sha256]));
      expect(new Set(responses.map((r) => r.header('etag')))).toEqual(new Set([`"${media.sha256}"`]));
      expect(suite.cdn.countMedia(media)).toBe(1);
    });
  });

  describe('one file under several mediaKeys', () => {
    // Where CopyObject is not atomic (s3rver's quirk), a read racing a second commit of the same
    // address can find it missing: there the downloads run one after the other.
    const atOnce = storage === 'fs' || !runS3Server().quirks.copyObjectNotAtomic;

    it(`stores it once and serves it to every key${atOnce ? ', with the downloads running at once' : ''}`, async () => {
      const plaintext = randomBytes(150_000);
      // The same file uploaded 12 times: 12 mediaKeys, 12 jobs, one content address.
      const uploads = Array.from({ length: 12 }, () => suite.cdn.publish(plaintext, 'document'));
      const responses: ApiResponse[] = [];
      if (atOnce) responses.push(...(await Promise.all(uploads.map((media) => suite.api.download(INSTANCE, downloadBody(media))))));
      else for (const media of uploads) responses.push(await suite.api.download(INSTANCE, downloadBody(media)));
      for (const response of responses) expectBytes(response, uploads[0]!.sha256, plaintext.length);
      for (const media of uploads) expect(suite.cdn.countMedia(media)).toBe(1);
      const stored = (await suite.stack.storedFiles()).filter((file) => file.includes(uploads[0]!.sha256));
      expect(stored).toHaveLength(1);
    });
  });

  describe('a stored media', () => {
    let media: PublishedMedia;
    let body: ReturnType<typeof downloadBody>;
    const size = 70_000;

    beforeAll(async () => {
      media = suite.cdn.publish(randomBytes(size), 'document');
      body = downloadBody(media, { mimetype: 'application/pdf' });
      expectBytes(await suite.api.download(INSTANCE, body), media.sha256, size);
      expect(suite.cdn.countMedia(media)).toBe(1);
    });

    it('is served again from the cache, with no CDN request', async () => {
      const before = suite.cdn.count();
      const response = await suite.api.download(INSTANCE, body);
      expectBytes(response, media.sha256, size);
      expectMediaHeaders(response, media, 'application/pdf', 'pdf');
      expect(suite.cdn.count()).toBe(before);
    });

    it('is served from the cache to another instance too, with no CDN request', async () => {
      const before = suite.cdn.count();
      expectBytes(await suite.api.download(OTHER_INSTANCE, body), media.sha256, size);
      expect(suite.cdn.count()).toBe(before);
    });

    it.each([
      ['bytes=100-1099', 100, 1099],
      ['bytes=69000-', 69_000, size - 1],
      ['bytes=-500', size - 500, size - 1],
      ['bytes=0-0', 0, 0],
      ['bytes=65000-999999', 65_000, size - 1],
    ])('answers Range %s with 206 and the exact bytes', async (range, start, end) => {
      const response = await suite.api.download(INSTANCE, body, { headers: { range } });
      expect(response.status).toBe(206);
      expect(response.header('content-range')).toBe(`bytes ${start}-${end}/${size}`);
      expect(response.header('content-length')).toBe(String(end - start + 1));
      expect(response.header('etag')).toBe(`"${media.sha256}"`);
      expect(response.body.equals(media.plaintext.subarray(start, end + 1))).toBe(true);
    });

    it.each(['bytes=0-0', 'bytes=100-1099', 'bytes=-1'])('sends no byte past the Content-Length of Range %s, on the wire', async (range) => {
      // Read from the socket itself: an HTTP client stops at the Content-Length and would not see
      // the extra bytes a store answering more than the range asked (s3rver ignores bytes=0-0) could push.
      const json = JSON.stringify(body);
      const { origin, host } = new URL(suite.stack.baseUrl);
      const request =
        `POST /api/v2/instance/${INSTANCE}/media/directly-download HTTP/1.1\r\nHost: ${host}\r\n` +
        `Authorization: Bearer ${suite.stack.token(INSTANCE)}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nRange: ${range}\r\nConnection: close\r\n\r\n${json}`;
      const wire = await rawExchange(origin, request);
      const headEnd = wire.indexOf('\r\n\r\n');
      const head = wire.subarray(0, headEnd).toString('latin1');
      expect(head).toMatch(/^HTTP\/1\.1 206 /);
      const declared = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
      expect(wire.length - headEnd - 4).toBe(declared);
    });

    it('answers an unsatisfiable Range with 416 and Content-Range bytes */size', async () => {
      const response = await suite.api.download(INSTANCE, body, { headers: { range: `bytes=${size}-` } });
      expectError(response, 416, new RegExp(`${size} bytes`));
      expect(response.header('content-range')).toBe(`bytes */${size}`);
      // An error, not the media: no attachment, no media validator.
      expect(response.header('content-disposition')).toBeUndefined();
      expect(response.header('etag')).not.toBe(`"${media.sha256}"`);
    });

    it('answers If-None-Match with its ETag with 304 and no body', async () => {
      const response = await suite.api.download(INSTANCE, body, { headers: { 'if-none-match': `"${media.sha256}"` } });
      expect(response.status).toBe(304);
      expect(response.body.length).toBe(0);
      expect(response.header('etag')).toBe(`"${media.sha256}"`);
    });

    it('answers If-None-Match with another ETag with the whole media', async () => {
      const response = await suite.api.download(INSTANCE, body, { headers: { 'if-none-match': `"${'0'.repeat(64)}"` } });
      expectBytes(response, media.sha256, size);
    });

    it('made exactly one CDN download in all', () => {
      expect(suite.cdn.countMedia(media)).toBe(1);
    });
  });

  describe('integrity', () => {
    it('answers a wrong mediaKey with 422 and stores nothing', async () => {
      const media = suite.cdn.publish(randomBytes(50_000), 'image');
      const before = await suite.stack.storedFiles();
      const response = await suite.api.download(
        INSTANCE,
        downloadBody(media, { content: { mediaKey: randomBytes(32).toString('base64') } }),
      );
      expectError(response, 422, /integrity check failed/, /HMAC|mismatch/);
      expect(suite.cdn.countMedia(media)).toBe(1);
      await expectNothingStored(media, before);
    });

    it('answers bytes that do not match fileEncSha256 with 422 and stores nothing', async () => {
      const media = suite.cdn.publish(randomBytes(50_000), 'image');
      suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', body: corrupt(media.enc) });
      const before = await suite.stack.storedFiles();
      const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }));
      expectError(response, 422, /integrity check failed/, /fileEncSha256/);
      await expectNothingStored(media, before);
    });

    it('answers corrupted bytes without hashes to check with 422 (the MAC) and stores nothing', async () => {
      const media = suite.cdn.publish(randomBytes(50_000), 'image');
      suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', body: corrupt(media.enc) });
      const before = await suite.stack.storedFiles();
      const response = await suite.api.download(
        INSTANCE,
        downloadBody(media, { omit: ['url', 'fileEncSha256', 'fileSha256', 'fileLength'] }),
      );
      expectError(response, 422, /HMAC mismatch/);
      await expectNothingStored(media, before);
    });

    it("checks a cache hit against the request's own fileSha256 and fileLength: a wrong one is 422 for that request only", async () => {
      const media = suite.cdn.publish(randomBytes(20_000), 'image');
      expectBytes(await suite.api.download(INSTANCE, downloadBody(media)), media.sha256, media.fileLength);
      const otherSha256 = randomBytes(32).toString('base64');
      expectError(await suite.api.download(INSTANCE, downloadBody(media, { content: { fileSha256: otherSha256 } })), 422, /fileSha256/);
      expectError(await suite.api.download(OTHER_INSTANCE, downloadBody(media, { content: { fileLength: media.fileLength + 1 } })), 422, /length/i);
      expectBytes(await suite.api.download(OTHER_INSTANCE, downloadBody(media)), media.sha256, media.fileLength);
      expect(suite.cdn.countMedia(media)).toBe(1);
    });

    describe("requests joining a running job, each with hints of its own", () => {
      /** A media whose first CDN answer waits for the gate; every later one is served at once. */
      function heldMedia() {
        const media = suite.cdn.publish(randomBytes(30_000), 'document');
        const held = gate();
        suite.cdn.enqueue(media.directPathname, { kind: 'serve', headersAfter: held.opened });
        return { media, held };
      }

      /**
       * Sends the starter, waits until its job is at the CDN, sends the joiners, waits until they
       * all wait on the job, then lets the CDN answer; resolves with every answer, starter first.
       */
      async function joinOne({ media, held }: ReturnType<typeof heldMedia>, starter: BodyOptions, joiners: BodyOptions[]) {
        const body = (options: BodyOptions) => downloadBody(media, { ...options, omit: ['url', ...(options.omit ?? [])] });
        const first = suite.api.download(INSTANCE, body(starter));
        await eventually(async () => (suite.cdn.count(media.directPathname) === 1 ? true : undefined), { what: 'the CDN request' });
        const rest = joiners.map((options) => suite.api.download(OTHER_INSTANCE, body(options)));
        await eventually(async () => ((await waitingRequests(suite.stack.baseUrl)) === 1 + joiners.length ? true : undefined), {
          what: 'every request waiting on the job',
        });
        held.open();
        return Promise.all([first, ...rest]);
      }

      it("a joiner's wrong hint fails that request alone; the job and the others succeed", async () => {
        const held = heldMedia();
        const { media } = held;
        const [starter, wrongSha, wrongLength, plain] = await joinOne(held, {}, [
          { content: { fileSha256: randomBytes(32).toString('base64') } },
          { content: { fileLength: 3 } },
          {},
        ]);
        expectBytes(starter!, media.sha256, media.fileLength);
        expectError(wrongSha!, 422, /fileSha256/);
        expectError(wrongLength!, 422, /length/i);
        expectBytes(plain!, media.sha256, media.fileLength);
        expect(suite.cdn.count(media.directPathname)).toBe(1);
      });

      it("the starter's wrong hint fails the starter; joiners without it get a fresh attempt, 200", async () => {
        const held = heldMedia();
        const { media } = held;
        const [starter, ...joiners] = await joinOne(held, { content: { fileSha256: randomBytes(32).toString('base64') } }, [
          {},
          { omit: ['fileSha256', 'fileLength', 'fileEncSha256'] },
        ]);
        expectError(starter!, 422, /fileSha256/);
        for (const joiner of joiners) expectBytes(joiner!, media.sha256, media.fileLength);
        expect(suite.cdn.count(media.directPathname)).toBe(2);
      });
    });

    /** The store holds the same files as `before`: no blob of the media, no temporary left over. */
    async function expectNothingStored(media: PublishedMedia, before: string[]) {
      const after = await suite.stack.storedFiles();
      expect(after.filter((file) => file.includes(media.sha256))).toEqual([]);
      expect(after.filter((file) => /(^|\/)tmp\//.test(file) || isUnfinishedUpload(file))).toEqual([]);
      expect(after).toEqual(before);
    }
  });

  describe('a slow CDN', () => {
    it('answers 202 when the timeout elapses first; the job goes on and its routes serve it to its instance only', async () => {
      const media = suite.cdn.publish(randomBytes(40_000), 'audio');
      // The CDN answers only once the test has seen the job pending: the timeout surely ran out first.
      const seenPending = gate();
      suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', headersAfter: seenPending.opened });
      const response = await suite.api.download(INSTANCE, downloadBody(media), { timeout: 200 });
      expect(response.status, response.body.toString()).toBe(202);
      const job = response.json<{ jobId: string; status: string; statusUrl: string; contentUrl: string }>();
      const statusUrl = `/api/v2/instance/${INSTANCE}/media/jobs/${job.jobId}`;
      expect(job).toEqual({
        jobId: expect.stringMatching(/^dl-[0-9a-f]{64}$/),
        status: expect.stringMatching(/^(waiting|active|delayed|prioritized)$/),
        statusUrl,
        contentUrl: `${statusUrl}/content`,
      });

      // Still downloading: the content route says so with another 202.
      const early = await suite.api.get(job.contentUrl, INSTANCE);
      expect(early.status).toBe(202);
      expect(early.json()).toMatchObject({ jobId: job.jobId, statusUrl, contentUrl: job.contentUrl });

      // Another instance sees no such job, on its own routes; on ours its token is refused.
      const otherBase = `/api/v2/instance/${OTHER_INSTANCE}/media/jobs/${job.jobId}`;
      expectError(await suite.api.get(otherBase, OTHER_INSTANCE), 404, /not found/);
      expectError(await suite.api.get(`${otherBase}/content`, OTHER_INSTANCE), 404, /not found/);
      expectError(await suite.api.get(job.statusUrl, INSTANCE, { token: suite.stack.token(OTHER_INSTANCE) }), 403);
      seenPending.open();

      const status = await eventually(
        async () => {
          const polled = (await suite.api.get(job.statusUrl, INSTANCE)).json<{ status: string }>();
          return polled.status === 'completed' ? polled : undefined;
        },
        { what: 'job completion' },
      );
      expect(status).toMatchObject({
        jobId: job.jobId,
        status: 'completed',
        result: { sha256: media.sha256, size: media.fileLength, mimetype: 'audio/ogg' },
      });

      const content = await suite.api.get(job.contentUrl, INSTANCE);
      expectBytes(content, media.sha256, media.fileLength);
      expectMediaHeaders(content, media, 'audio/ogg', 'ogg');
      expect(suite.cdn.countMedia(media)).toBe(1);
    });

    it('answers timeout=0 with 202 at once', async () => {
      const media = suite.cdn.publish(randomBytes(10_000), 'image');
      const response = await suite.api.download(INSTANCE, downloadBody(media), { timeout: 0 });
      expect(response.status).toBe(202);
      const { contentUrl } = response.json<{ contentUrl: string }>();
      const content = await eventually(
        async () => {
          const answer = await suite.api.get(contentUrl, INSTANCE);
          return answer.status === 202 ? undefined : answer;
        },
        { what: 'job content' },
      );
      expectBytes(content, media.sha256, media.fileLength);
    });
  });

  it('stops every process cleanly on SIGTERM and leaves no Redis key behind', async () => {
    await suite.stack.stop();
    expect(suite.stack.processes.map((p) => [p.name, p.exitCode])).toEqual(suite.stack.processes.map((p) => [p.name, 0]));
    const redis = await connectTestRedis(suite.stack.env);
    try {
      expect(await redis.scan(`${suite.stack.prefix}:*`)).toEqual([]);
    } finally {
      await redis.close();
    }
  });
});
