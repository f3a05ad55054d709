/**
 * What the service answers when the CDN, or the reference a client sent, is not usable:
 * expired media, a flaky or failing CDN, media over the size limit, and hosts outside
 * MEDIA_ALLOWED_HOSTS (which must never be contacted at all).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mediaLookupKey, type ContentType } from '@wamedia/shared';
import { downloadBody, eventually } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import { FakeCdn } from '../support/fake-cdn.js';

const INSTANCE = 'instance-a';
const MAX_MEDIA_BYTES = 256 * 1024;
const JOB_ATTEMPTS = 3;
const CDN_IDLE_TIMEOUT_MS = 1_000;

/** A listener on 127.0.0.2, outside the allow list: it must never see a connection. */
let trap: FakeCdn;

const suite = useCdnStack({
  env: {
    MAX_MEDIA_BYTES: String(MAX_MEDIA_BYTES),
    JOB_ATTEMPTS: String(JOB_ATTEMPTS),
    JOB_BACKOFF_MS: '100',
    // Longer than the test: a 169.254.169.254 connect attempt would show as a hang, not an error.
    CDN_CONNECT_TIMEOUT_MS: '20000',
    CDN_IDLE_TIMEOUT_MS: String(CDN_IDLE_TIMEOUT_MS),
  },
});

beforeAll(async () => {
  trap = await FakeCdn.start('127.0.0.2');
});

afterAll(async () => {
  await trap?.close();
});

describe('expired media', () => {
  it.each([403, 404, 410])(
    'answers a CDN %i with 404 saying the media expired and must be re-uploaded from the phone, without retrying',
    async (status) => {
      const media = suite.cdn.publish(randomBytes(5_000), 'image');
      suite.cdn.setBehaviour(media.directPathname, { kind: 'status', status });
      suite.cdn.setBehaviour(media.urlPathname, { kind: 'status', status });
      const response = await suite.api.download(INSTANCE, downloadBody(media));
      expectError(response, 404, /expired/, /re-uploaded from the phone/, new RegExp(`HTTP ${status}`));
      // Both references tried once; a final answer burns no retries.
      expect(suite.cdn.count(media.directPathname)).toBe(1);
      expect(suite.cdn.count(media.urlPathname)).toBe(1);
    },
  );
});

describe('a job that fails after the answer', () => {
  it('reports the failure on its status route and answers its content route with the error', async () => {
    const media = suite.cdn.publish(randomBytes(5_000), 'audio');
    suite.cdn.setBehaviour(media.directPathname, { kind: 'status', status: 410 });
    const accepted = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 0 });
    expect(accepted.status).toBe(202);
    const { statusUrl, contentUrl } = accepted.json<{ statusUrl: string; contentUrl: string }>();
    const status = await eventually(
      async () => {
        const polled = (await suite.api.get(statusUrl, INSTANCE)).json<{ status: string }>();
        return polled.status === 'failed' ? polled : undefined;
      },
      { what: 'job failure' },
    );
    expect(status).toMatchObject({ status: 'failed', error: { statusCode: 404, message: expect.stringMatching(/expired/) } });
    expectError(await suite.api.get(contentUrl, INSTANCE), 404, /expired/, /re-uploaded from the phone/);
  });
});

describe('a media re-uploaded from the phone', () => {
  it('downloads with its new directPath right after the old one answered 404', async () => {
    // A media retry keeps the mediaKey and gives a new directPath: the same cache key, a new reference.
    const media = suite.cdn.publish(randomBytes(8_000), 'image');
    const expired = { ...media, directPath: '/v/t62.7118-24/expired.enc?oh=old&oe=00' };
    const first = await suite.api.download(INSTANCE, downloadBody(expired, { omit: ['url'] }));
    expectError(first, 404, /expired/);
    const second = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }));
    expectBytes(second, media.sha256, media.fileLength);
    expect(suite.cdn.count(media.directPathname)).toBe(1);
  });

  it('answers an identical request right after a failure from the failed job, without asking the CDN again', async () => {
    const media = suite.cdn.publish(randomBytes(8_000), 'image');
    suite.cdn.setBehaviour(media.directPathname, { kind: 'status', status: 410 });
    const body = downloadBody(media, { omit: ['url'] });
    expectError(await suite.api.download(INSTANCE, body), 404, /expired/);
    expectError(await suite.api.download(INSTANCE, body), 404, /expired/);
    expect(suite.cdn.count(media.directPathname)).toBe(1);
  });
});

describe('a failing CDN', () => {
  it('retries a CDN that answers 500 twice and then serves the media: 200', async () => {
    const media = suite.cdn.publish(randomBytes(30_000), 'document');
    suite.cdn.failTimes(media.directPathname, 2, 500);
    const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }));
    expectBytes(response, media.sha256, media.fileLength);
    expect(suite.cdn.count(media.directPathname)).toBe(3);
  });

  it('answers 502 once every attempt got a 500, after JOB_ATTEMPTS requests', async () => {
    const media = suite.cdn.publish(randomBytes(3_000), 'document');
    suite.cdn.setBehaviour(media.directPathname, { kind: 'status', status: 500 });
    const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }));
    expectError(response, 502, /HTTP 500/);
    expect(suite.cdn.count(media.directPathname)).toBe(JOB_ATTEMPTS);
  });

  it('takes a slow body whose every pause is shorter than CDN_IDLE_TIMEOUT_MS, however long the whole transfer', async () => {
    const media = suite.cdn.publish(randomBytes(64 * 1024), 'video');
    // 8 pieces, 300 ms apart: 2.1 s in all, twice the idle timeout.
    suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', chunkSize: 8 * 1024 + 4, chunkIntervalMs: 300 });
    const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }));
    expectBytes(response, media.sha256, media.fileLength);
    expect(suite.cdn.count(media.directPathname)).toBe(1);
  });

  it('gives up on a body that stalls longer than CDN_IDLE_TIMEOUT_MS and retries: 200', async () => {
    const media = suite.cdn.publish(randomBytes(64 * 1024), 'video');
    suite.cdn.enqueue(media.directPathname, { kind: 'serve', chunkSize: 16 * 1024, chunkIntervalMs: 3 * CDN_IDLE_TIMEOUT_MS });
    const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }));
    expectBytes(response, media.sha256, media.fileLength);
    expect(suite.cdn.count(media.directPathname)).toBe(2);
  });

  it('retries a dropped connection and then serves the media: 200', async () => {
    const media = suite.cdn.publish(randomBytes(30_000), 'video');
    suite.cdn.enqueue(media.directPathname, { kind: 'reset' });
    const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }));
    expectBytes(response, media.sha256, media.fileLength);
    expect(suite.cdn.count(media.directPathname)).toBe(2);
  });
});

describe('the size limit', () => {
  it('answers a declared fileLength above MAX_MEDIA_BYTES with 413 before any CDN request', async () => {
    const media = suite.cdn.publish(randomBytes(MAX_MEDIA_BYTES + 1), 'video');
    const response = await suite.api.download(INSTANCE, downloadBody(media));
    expectError(response, 413, new RegExp(`larger than the limit of ${MAX_MEDIA_BYTES} bytes`));
    expect(suite.cdn.countMedia(media)).toBe(0);
  });

  it('accepts a media of exactly MAX_MEDIA_BYTES, without a fileLength (its .enc is larger than that)', async () => {
    const media = suite.cdn.publish(randomBytes(MAX_MEDIA_BYTES), 'video');
    const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['fileLength', 'url'] }));
    expectBytes(response, media.sha256, MAX_MEDIA_BYTES);
  });

  it('answers a media one byte over MAX_MEDIA_BYTES, without a fileLength, with 413 and stores nothing', async () => {
    const media = suite.cdn.publish(randomBytes(MAX_MEDIA_BYTES + 1), 'video');
    const before = await suite.stack.storedFiles();
    const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['fileLength', 'url'] }));
    expectError(response, 413, new RegExp(`larger than the limit of ${MAX_MEDIA_BYTES} bytes`));
    expect(suite.cdn.count(media.directPathname)).toBe(1);
    expect(await suite.stack.storedFiles()).toEqual(before);
  });

  it.each([
    ['with a Content-Length', true],
    ['sent chunked, without a Content-Length', false],
  ])('answers a body above MAX_MEDIA_BYTES (%s) and no fileLength with 413 and stores nothing', async (_, declared) => {
    const media = suite.cdn.publish(randomBytes(MAX_MEDIA_BYTES + 64 * 1024), 'video');
    suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', contentLength: declared, chunkSize: 16 * 1024 });
    const before = await suite.stack.storedFiles();
    const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['fileLength', 'url'] }));
    expectError(response, 413, new RegExp(`larger than the limit of ${MAX_MEDIA_BYTES} bytes`));
    // Final: one request, no retry.
    expect(suite.cdn.count(media.directPathname)).toBe(1);
    expect(await suite.stack.storedFiles()).toEqual(before);
  });
});

describe('hosts outside MEDIA_ALLOWED_HOSTS', () => {
  /** A request body naming `url` for a media that exists nowhere; its job id is known in advance. */
  function bodyFor(url: string, contentType: ContentType = 'image') {
    const mediaKey = randomBytes(32);
    return {
      body: { contentType, content: { url, mediaKey: mediaKey.toString('base64') } },
      lookupKey: mediaLookupKey(mediaKey, contentType),
    };
  }

  /** No Redis key of the stack names the media: no job was ever queued, so no worker could fetch. */
  async function expectNoJob(lookupKey: string) {
    expect((await suite.stack.redisKeys()).filter((key) => key.includes(lookupKey))).toEqual([]);
  }

  it('answers a url on 127.0.0.2 with 400 and never connects to it', async () => {
    const { body, lookupKey } = bodyFor(`${trap.origin}/v/t62.7118-24/secret.enc?oh=x&oe=y`);
    const response = await suite.api.download(INSTANCE, body);
    expectError(response, 400, /host not allowed/, new RegExp(trap.origin.replace(/\./g, '\\.')));
    await expectNoJob(lookupKey);
    expect(trap.connections).toBe(0);
  });

  it('answers a url on 169.254.169.254 (cloud metadata) with 400 before any fetch', async () => {
    const { body, lookupKey } = bodyFor('http://169.254.169.254/latest/meta-data/iam/security-credentials/');
    // Refused by the API itself: no job, so no connection was ever tried (nor waited for).
    const response = await suite.api.download(INSTANCE, body);
    expectError(response, 400, /host not allowed/, /169\.254\.169\.254/);
    await expectNoJob(lookupKey);
  });

  it('answers a url on an allowed host but another port or scheme with 400', async () => {
    const otherPort = `http://127.0.0.1:${suite.cdn.port === 65535 ? 1 : suite.cdn.port + 1}/x.enc`;
    const https = `https://127.0.0.1:${suite.cdn.port}/x.enc`;
    for (const url of [otherPort, https]) {
      const { body, lookupKey } = bodyFor(url);
      expectError(await suite.api.download(INSTANCE, body), 400, /host not allowed/);
      await expectNoJob(lookupKey);
    }
  });

  it('answers a CDN redirect to 127.0.0.2 with 400 and never follows it', async () => {
    const media = suite.cdn.publish(randomBytes(5_000), 'image');
    suite.cdn.setBehaviour(media.directPathname, { kind: 'redirect', location: `${trap.origin}/stolen.enc` });
    const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }));
    expectError(response, 400, /host not allowed/, new RegExp(trap.origin.replace(/\./g, '\\.')));
    expect(suite.cdn.count(media.directPathname)).toBe(1);
    expect(trap.connections).toBe(0);
  });

  it('follows a redirect within the allowed origin', async () => {
    const media = suite.cdn.publish(randomBytes(5_000), 'image');
    suite.cdn.setBehaviour(media.directPathname, { kind: 'redirect', location: media.url });
    const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }));
    expectBytes(response, media.sha256, media.fileLength);
    expect(suite.cdn.count(media.urlPathname)).toBe(1);
  });

  it('has not let any request reach 127.0.0.2', () => {
    expect(trap.connections).toBe(0);
    expect(trap.count()).toBe(0);
  });
});
