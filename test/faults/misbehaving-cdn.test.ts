/**
 * Fault injection: a CDN that misbehaves at the byte level. Each misbehaviour must end the way
 * docs/operations.md (failure behaviour) says (network trouble and 5xx/429 retried with backoff, honouring Retry-After, then
 * 502; a body that fails verification 422 and final), within a bounded time, and must leave no
 * worker hanging: afterwards the job is no longer active and the worker takes a normal media
 * at once. test/e2e/cdn-failures.test.ts has the simple cases (statuses, a dropped connection
 * before the answer, one stall then success, the size limit); this file has the rest, timed.
 *
 * One fs stack, one worker; JOB_ATTEMPTS = 3, JOB_BACKOFF_MS = 100 (retries after 100 and
 * 200 ms), CDN_IDLE_TIMEOUT_MS = 1000.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { downloadBody, eventually, type ApiResponse } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import { type CdnResponder, type PublishedMedia } from '../support/fake-cdn.js';
import { expectSoundStore } from '../support/store-audit.js';

const INSTANCE = 'instance-faults-cdn';
const KiB = 1024;
const JOB_ATTEMPTS = 3;
const CDN_IDLE_TIMEOUT_MS = 1_000;
/** The backoff of all retries of one job: 100 + 200 ms. */
const BACKOFF_TOTAL_MS = 300;
/**
 * What a round trip through the API, the queue and a worker may add to a case when other
 * processes keep every core busy. The bounds stay far below what they guard against (a CDN
 * silence of 120 s, a connection held open for minutes); the lower bounds are exact.
 */
const SLACK_MS = 15_000;

const suite = useCdnStack({
  env: { JOB_ATTEMPTS: String(JOB_ATTEMPTS), JOB_BACKOFF_MS: '100', CDN_IDLE_TIMEOUT_MS: String(CDN_IDLE_TIMEOUT_MS) },
});

function publish(size: number): PublishedMedia {
  return suite.cdn.publish(randomBytes(size), 'document');
}

/** A download by directPath only (so every CDN request is on one path), timed from the client. */
async function timedDownload(media: PublishedMedia): Promise<{ response: ApiResponse; ms: number }> {
  const started = performance.now();
  const response = await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 60_000 });
  return { response, ms: performance.now() - started };
}

/**
 * The worker is not left hanging: it is alive, BullMQ holds no job of this stack as active
 * (a download stuck on a dead connection would stay active), and a normal media is served
 * promptly, on a fresh CDN path. And the store is sound: only verified blobs, no temporary left.
 */
async function expectWorkerHealthy(): Promise<void> {
  expect(suite.stack.workers.every((worker) => worker.running), suite.stack.describe()).toBe(true);
  const redis = await suite.stack.redis();
  expect(await redis.command('LRANGE', `${suite.stack.prefix}:media-download:active`, 0, -1)).toEqual([]);
  const normal = publish(16 * KiB);
  const { response, ms } = await timedDownload(normal);
  expectBytes(response, normal.sha256, normal.fileLength);
  expect(ms).toBeLessThan(SLACK_MS);
  await expectSoundStore(suite.stack);
}

/**
 * Every response of the CDN on `pathname` was let go by the worker: their connections are closed
 * (the CDN itself would have held them open for minutes).
 */
async function expectAllDropped(pathname: string): Promise<void> {
  await eventually(
    async () => (suite.cdn.requests.filter((r) => r.pathname === pathname).every((r) => r.closedAt !== undefined) ? true : undefined),
    { timeoutMs: SLACK_MS, what: `every response on ${pathname} dropped` },
  );
}

/** The CDN requests for `pathname`, as times relative to the first one. */
function requestOffsets(pathname: string): number[] {
  const times = suite.cdn.requests.filter((r) => r.pathname === pathname).map((r) => r.at);
  return times.map((at) => at - times[0]!);
}

describe('a connection reset (TCP RST) in the middle of the body', () => {
  it('is retried: the next attempt serves the media, 200, within the bound', async () => {
    const media = publish(512 * KiB);
    suite.cdn.enqueue(media.directPathname, { kind: 'serve', chunkSize: 64 * KiB, resetAfter: 200 * KiB });
    const { response, ms } = await timedDownload(media);
    expectBytes(response, media.sha256, media.fileLength);
    expect(suite.cdn.count(media.directPathname)).toBe(2);
    expect(ms).toBeLessThan(100 + SLACK_MS);
    await expectWorkerHealthy();
  });

  it('on every attempt: 502 after JOB_ATTEMPTS requests, within the bound', async () => {
    const media = publish(512 * KiB);
    suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', chunkSize: 64 * KiB, resetAfter: 200 * KiB });
    const { response, ms } = await timedDownload(media);
    expectError(response, 502, /broke off after \d+ of \d+ bytes \(ECONNRESET\)/);
    expect(suite.cdn.count(media.directPathname)).toBe(JOB_ATTEMPTS);
    expect(ms).toBeLessThan(BACKOFF_TOTAL_MS + SLACK_MS);
    await expectWorkerHealthy();
  });
});

describe('a lying Content-Length: the body ends (FIN) short of the declared length', () => {
  const lying = (media: PublishedMedia): CdnResponder => ({
    kind: 'serve',
    body: media.enc.subarray(0, media.enc.length - 4 * KiB),
    contentLength: media.enc.length,
  });

  it('is retried: the next attempt serves the media, 200', async () => {
    const media = publish(256 * KiB);
    suite.cdn.enqueue(media.directPathname, lying(media));
    const { response, ms } = await timedDownload(media);
    expectBytes(response, media.sha256, media.fileLength);
    expect(suite.cdn.count(media.directPathname)).toBe(2);
    expect(ms).toBeLessThan(100 + SLACK_MS);
    await expectWorkerHealthy();
  });

  it('on every attempt: 502 naming how far the body got, after JOB_ATTEMPTS requests', async () => {
    const media = publish(256 * KiB);
    suite.cdn.setBehaviour(media.directPathname, lying(media));
    const { response, ms } = await timedDownload(media);
    expectError(response, 502, new RegExp(`broke off after \\d+ of ${media.enc.length} bytes`));
    expect(suite.cdn.count(media.directPathname)).toBe(JOB_ATTEMPTS);
    expect(ms).toBeLessThan(BACKOFF_TOTAL_MS + SLACK_MS);
    await expectWorkerHealthy();
  });
});

describe('a body longer than its declared length', () => {
  it('takes exactly the declared bytes when the declared length is the media: 200 from one request', async () => {
    const media = publish(128 * KiB);
    // The .enc, then 4 KiB the CDN never declared (the next "response" on the connection, garbage).
    const body = Buffer.concat([media.enc, randomBytes(4 * KiB)]);
    suite.cdn.enqueue(media.directPathname, { kind: 'serve', body, contentLength: media.enc.length });
    const { response } = await timedDownload(media);
    expectBytes(response, media.sha256, media.fileLength);
    expect(suite.cdn.count(media.directPathname)).toBe(1);
    await expectWorkerHealthy();
  });

  it('is retried when the declared length cuts the media short (no .enc has that length): the next attempt serves it, 200', async () => {
    const media = publish(128 * KiB);
    suite.cdn.enqueue(media.directPathname, { kind: 'serve', contentLength: media.enc.length - 1_000 });
    const { response } = await timedDownload(media);
    expectBytes(response, media.sha256, media.fileLength);
    expect(suite.cdn.count(media.directPathname)).toBe(2);
    await expectWorkerHealthy();
  });

  it('is retried when the declared length is a plausible .enc but not this media\'s (the bytes fail the MAC): the next attempt serves it, 200', async () => {
    const media = publish(128 * KiB);
    // Whole blocks plus the MAC, 16 bytes short: only the request's fileLength tells it is not the media.
    suite.cdn.enqueue(media.directPathname, { kind: 'serve', contentLength: media.enc.length - 16 });
    const { response } = await timedDownload(media);
    expectBytes(response, media.sha256, media.fileLength);
    expect(suite.cdn.count(media.directPathname)).toBe(2);
    await expectWorkerHealthy();
  });

  it('a plausible declared length cut short on every attempt: 502 naming both lengths, after JOB_ATTEMPTS requests, nothing stored', async () => {
    const media = publish(128 * KiB);
    suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', contentLength: media.enc.length - 16 });
    const { response } = await timedDownload(media);
    expectError(response, 502, new RegExp(`declared a Content-Length of ${media.enc.length - 16} where the \\.enc of ${media.fileLength} bytes is ${media.enc.length}`));
    expect(suite.cdn.count(media.directPathname)).toBe(JOB_ATTEMPTS);
    expect((await suite.stack.storedFiles()).filter((file) => file.includes(media.sha256))).toEqual([]);
    await expectWorkerHealthy();
  });

  it('on every attempt: 502 naming the declared length, after JOB_ATTEMPTS requests, nothing stored', async () => {
    const media = publish(128 * KiB);
    suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', contentLength: media.enc.length - 1_000 });
    const { response } = await timedDownload(media);
    expectError(response, 502, new RegExp(`declared a Content-Length of ${media.enc.length - 1_000}`));
    expect(suite.cdn.count(media.directPathname)).toBe(JOB_ATTEMPTS);
    expect((await suite.stack.storedFiles()).filter((file) => file.includes(media.sha256))).toEqual([]);
    await expectWorkerHealthy();
  });
});

describe('a CDN that goes silent', () => {
  it('a body that stalls past CDN_IDLE_TIMEOUT_MS on every attempt: 502 after JOB_ATTEMPTS idle timeouts, not later', async () => {
    const media = publish(256 * KiB);
    // 64 KiB, then silence far longer than the whole test.
    suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', chunkSize: 64 * KiB, chunkIntervalMs: 120_000 });
    const { response, ms } = await timedDownload(media);
    expectError(response, 502, /broke off after 65536 of \d+ bytes \(UND_ERR_BODY_TIMEOUT\)/);
    expect(suite.cdn.count(media.directPathname)).toBe(JOB_ATTEMPTS);
    expect(ms).toBeGreaterThanOrEqual(JOB_ATTEMPTS * CDN_IDLE_TIMEOUT_MS - 300);
    expect(ms).toBeLessThan(JOB_ATTEMPTS * CDN_IDLE_TIMEOUT_MS + BACKOFF_TOTAL_MS + SLACK_MS);
    await expectAllDropped(media.directPathname);
    await expectWorkerHealthy();
  });

  it('headers that never come: 502 after JOB_ATTEMPTS header timeouts (undici checks them on a coarse clock: up to 1 s late)', async () => {
    const media = publish(16 * KiB);
    suite.cdn.setBehaviour(media.directPathname, { kind: 'hang' });
    const { response, ms } = await timedDownload(media);
    expectError(response, 502, /failed \(UND_ERR_HEADERS_TIMEOUT\)/);
    expect(suite.cdn.count(media.directPathname)).toBe(JOB_ATTEMPTS);
    expect(ms).toBeGreaterThanOrEqual(JOB_ATTEMPTS * CDN_IDLE_TIMEOUT_MS - 300);
    expect(ms).toBeLessThan(JOB_ATTEMPTS * (CDN_IDLE_TIMEOUT_MS + 1_000) + BACKOFF_TOTAL_MS + SLACK_MS);
    await expectAllDropped(media.directPathname);
    await expectWorkerHealthy();
  });
});

describe('429 Too Many Requests with Retry-After', () => {
  it('waits the Retry-After (longer than the backoff) before the next attempt, then serves the media', async () => {
    const media = publish(32 * KiB);
    suite.cdn.enqueue(media.directPathname, { kind: 'status', status: 429, headers: { 'retry-after': '2' } });
    const { response, ms } = await timedDownload(media);
    expectBytes(response, media.sha256, media.fileLength);
    const offsets = requestOffsets(media.directPathname);
    expect(offsets).toHaveLength(2);
    // Not the 100 ms backoff: the CDN's 2 s (BullMQ's delayed-job timer may fire a little early).
    expect(offsets[1]).toBeGreaterThanOrEqual(1_900);
    expect(offsets[1]).toBeLessThan(2_000 + SLACK_MS);
    expect(ms).toBeLessThan(2_000 + SLACK_MS);
    await expectWorkerHealthy();
  });
});

describe('a redirect loop', () => {
  it('gives up after the redirect cap on each attempt: 502 after JOB_ATTEMPTS × 6 requests, within the bound', async () => {
    const media = publish(16 * KiB);
    const other = `/loop/${randomBytes(6).toString('hex')}.enc`;
    suite.cdn.setBehaviour(media.directPathname, { kind: 'redirect', location: `${suite.cdn.origin}${other}` });
    suite.cdn.setBehaviour(other, { kind: 'redirect', location: `${media.directPathname}?hop=again`, status: 307 });
    const { response, ms } = await timedDownload(media);
    expectError(response, 502, /more than 5 redirects/);
    // Each attempt: the first request and 5 redirects followed, then it stops.
    expect(suite.cdn.count(media.directPathname) + suite.cdn.count(other)).toBe(JOB_ATTEMPTS * 6);
    expect(ms).toBeLessThan(BACKOFF_TOTAL_MS + SLACK_MS);
    await expectWorkerHealthy();
  });
});

describe('after every misbehaviour', () => {
  it('the store holds only verified blobs and no temporary object, and each failed attempt has its reason', async () => {
    await expectSoundStore(suite.stack);
    const failures = suite.stack.logs().filter((line) => line.msg === 'attempt failed');
    expect(failures.length).toBeGreaterThan(0);
    for (const line of failures) expect(String(line.reason)).toMatch(/^\{"code":"[A-Z_]+","message":/);
    expect(suite.stack.workers[0]!.stderr).not.toMatch(/Unhandled|uncaught/i);
  });
});
