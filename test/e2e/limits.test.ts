/**
 * Per-instance limits end to end (INSTANCE_REQUESTS_PER_MINUTE, INSTANCE_MAX_JOBS_IN_FLIGHT):
 * two tenants, one flooding, on one stack; then each limit on its own, batches, and the
 * reconciliation of jobs whose end no worker reported. Each case uses instances of its own, so
 * their counters do not mix.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BatchStatus } from '@wamedia/shared';
import { downloadBody, eventually, type ApiResponse } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import { type PublishedMedia } from '../support/fake-cdn.js';
import { gate } from '../support/gate.js';

const MAX_JOBS_IN_FLIGHT = 3;
const REQUESTS_PER_MINUTE = 40;

const suite = useCdnStack({
  workers: 1,
  env: {
    WORKER_CONCURRENCY: '8',
    INSTANCE_MAX_JOBS_IN_FLIGHT: String(MAX_JOBS_IN_FLIGHT),
    INSTANCE_REQUESTS_PER_MINUTE: String(REQUESTS_PER_MINUTE),
    // Jobs held at the CDN on purpose must not time out and retry (another CDN request) on a
    // loaded machine: the tests count CDN requests.
    CDN_IDLE_TIMEOUT_MS: '120000',
  },
});

/** A media whose CDN answer takes `delayMs` before its headers (directPath only: the body leaves the url out). */
function slowMedia(delayMs: number, size = 4_000): PublishedMedia {
  const media = suite.cdn.publish(randomBytes(size), 'document');
  suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', headerDelayMs: delayMs });
  return media;
}

/** A media whose CDN answer waits for `until` (directPath only, as slowMedia). */
function heldMedia(until: Promise<unknown>): PublishedMedia {
  const media = suite.cdn.publish(randomBytes(4_000), 'document');
  suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', headersAfter: until });
  return media;
}

/** How long a calm tenant's request waits before it would be answered 202 (a failure below). */
const CALM_WAIT_MS = 30_000;

const body = (media: PublishedMedia) => downloadBody(media, { omit: ['url'] });

const submitBatch = (instanceId: string, items: unknown[]) =>
  suite.api.call('POST', `/api/v2/instance/${instanceId}/media/batch`, { instanceId, body: JSON.stringify({ items }) });

const unknownJob = (instanceId: string) => `/api/v2/instance/${instanceId}/media/jobs/dl-${'0'.repeat(64)}`;

/** A 429 in the error shape with a Retry-After of whole seconds in [min, max]; returns the seconds. */
function expectRateLimited(response: ApiResponse, pattern: RegExp, min = 1, max = 60): number {
  expectError(response, 429, pattern);
  const retryAfter = response.header('retry-after');
  expect(retryAfter, 'Retry-After').toMatch(/^\d+$/);
  const seconds = Number(retryAfter);
  expect(seconds).toBeGreaterThanOrEqual(min);
  expect(seconds).toBeLessThanOrEqual(max);
  return seconds;
}

const RATE_MESSAGE = /too many requests: instance \S+ may make 40 per minute/;
const IN_FLIGHT_MESSAGE = /too many jobs in flight: instance \S+ has 3 jobs not yet ended, the limit is 3/;

describe('two tenants, one flooding', () => {
  const FLOODER = 'tenant-flood';
  const CALM = 'tenant-calm';

  it("answers the flooder 429 with Retry-After past its limits, while every request of the other tenant is answered normally and promptly", async () => {
    // The flooder asks for new media whose download takes 3 s: without limits, its jobs would fill
    // every worker slot (and the queue ahead of the other tenant) for minutes.
    // Held until the other tenant is done: if its requests queued behind these, they would never end.
    const calmServed = gate();
    const flood = Array.from({ length: 400 }, () => heldMedia(calmServed.opened));
    const calm = Array.from({ length: 20 }, () => suite.cdn.publish(randomBytes(20_000), 'image'));
    const floodAnswers: ApiResponse[] = [];
    let calmDone = false;

    const flooding = (async () => {
      let next = 0;
      // Waves of 25 requests at once, for as long as the other tenant is being served.
      while (!calmDone && next < flood.length) {
        const wave = flood.slice(next, next + 25);
        next += wave.length;
        floodAnswers.push(...(await Promise.all(wave.map((media) => suite.api.download(FLOODER, body(media), { timeout: 0 })))));
      }
    })();

    const calmTimes: number[] = [];
    try {
      // Let the flood start first.
      await eventually(async () => (floodAnswers.length >= 25 ? true : undefined), { what: 'the first wave of the flood' });
      for (const media of calm) {
        const started = performance.now();
        const response = await suite.api.download(CALM, downloadBody(media), { timeout: CALM_WAIT_MS });
        calmTimes.push(performance.now() - started);
        expectBytes(response, media.sha256, media.fileLength);
      }
    } finally {
      calmDone = true;
      await flooding;
      calmServed.open();
    }

    // The flood went on during the whole of the other tenant's downloads.
    expect(floodAnswers.length).toBeGreaterThan(REQUESTS_PER_MINUTE);
    // Every one of them was served (200, not 202) while the flooder's jobs were held: nothing
    // queued behind them.
    expect(calmTimes, `calm tenant's answer times: ${calmTimes.map(Math.round).join(', ')} ms`).toHaveLength(calm.length);

    // The flooder: exactly its 3 jobs accepted, everything else refused with 429 and Retry-After.
    const accepted = floodAnswers.filter((r) => r.status === 202);
    expect(accepted).toHaveLength(MAX_JOBS_IN_FLIGHT);
    const refused = floodAnswers.filter((r) => r.status !== 202);
    const inFlightRefusals = refused.filter((r) => IN_FLIGHT_MESSAGE.test(r.body.toString()));
    const rateRefusals = refused.filter((r) => RATE_MESSAGE.test(r.body.toString()));
    // The first 40 requests pass the rate limit (3 of them get jobs); all the others are past it.
    expect(inFlightRefusals).toHaveLength(REQUESTS_PER_MINUTE - MAX_JOBS_IN_FLIGHT);
    expect(rateRefusals).toHaveLength(floodAnswers.length - REQUESTS_PER_MINUTE);
    for (const response of inFlightRefusals) expect(expectRateLimited(response, IN_FLIGHT_MESSAGE)).toBe(2);
    for (const response of rateRefusals) expectRateLimited(response, RATE_MESSAGE);
    // Only the accepted jobs ever reached the CDN.
    expect(flood.reduce((sum, media) => sum + suite.cdn.countMedia(media), 0)).toBe(MAX_JOBS_IN_FLIGHT);

    // The other tenant is still well within its own budget.
    expect((await suite.api.get(unknownJob(CALM), CALM)).status).toBe(404);
  });
});

describe('requests per minute', () => {
  it('counts every request of an instance on its routes, whatever the route, and refuses the 41st', async () => {
    const INSTANCE = 'tenant-rpm';
    for (let i = 0; i < REQUESTS_PER_MINUTE; i++) expect((await suite.api.get(unknownJob(INSTANCE), INSTANCE)).status).toBe(404);
    expectRateLimited(await suite.api.get(unknownJob(INSTANCE), INSTANCE), RATE_MESSAGE);
    expectRateLimited(await suite.api.download(INSTANCE, { contentType: 'nope', content: {} }), RATE_MESSAGE);
    // The token is checked first: a request without one is a 401 and counts for no one.
    expectError(await suite.api.get(unknownJob(INSTANCE), INSTANCE, { token: null }), 401);
    // Other instances are not affected, and the operations routes are not limited.
    expect((await suite.api.get(unknownJob('tenant-rpm-other'), 'tenant-rpm-other')).status).toBe(404);
    expect((await suite.api.call('GET', '/healthz', {})).status).toBe(200);
  });
});

describe('jobs in flight', () => {
  const INSTANCE = 'tenant-jobs';
  const OTHER = 'tenant-jobs-other';

  it('refuses a 4th new job with 429 and Retry-After: 2, but lets the instance join jobs, read the cache, and start again once jobs end', async () => {
    const stored = suite.cdn.publish(randomBytes(3_000), 'image');
    expectBytes(await suite.api.download(INSTANCE, downloadBody(stored)), stored.sha256, stored.fileLength);

    const release = gate();
    const running = [heldMedia(release.opened), heldMedia(release.opened), heldMedia(release.opened)];
    for (const media of running) expect((await suite.api.download(INSTANCE, body(media), { timeout: 0 })).status).toBe(202);
    const fourth = slowMedia(200);
    expect(expectRateLimited(await suite.api.download(INSTANCE, body(fourth), { timeout: 0 }), IN_FLIGHT_MESSAGE)).toBe(2);

    // Joining a job already running takes no slot, neither for this instance nor for another one.
    expect((await suite.api.download(INSTANCE, body(running[0]!), { timeout: 0 })).status).toBe(202);
    expect((await suite.api.download(OTHER, body(running[1]!), { timeout: 0 })).status).toBe(202);
    // A stored media needs no job at all.
    expectBytes(await suite.api.download(INSTANCE, downloadBody(stored)), stored.sha256, stored.fileLength);
    // The other instance, which only joined, still has its 3 slots.
    for (let i = 0; i < MAX_JOBS_IN_FLIGHT; i++) expect((await suite.api.download(OTHER, body(slowMedia(100)), { timeout: 0 })).status).toBe(202);

    // Once the jobs have ended (waiting on them joins them), the instance may start new ones.
    release.open();
    for (const media of running) expectBytes(await suite.api.download(INSTANCE, body(media)), media.sha256, media.fileLength);
    expectBytes(await suite.api.download(INSTANCE, body(fourth)), fourth.sha256, fourth.fileLength);
    expect(suite.cdn.countMedia(fourth)).toBe(1);
  });

  it('drops the slots of jobs that ended without the worker saying so (a crash, a lost release) before refusing', async () => {
    const INSTANCE_CRASH = 'tenant-crash';
    const done = [suite.cdn.publish(randomBytes(2_000), 'audio'), suite.cdn.publish(randomBytes(2_000), 'audio'), suite.cdn.publish(randomBytes(2_000), 'audio')];
    const jobIds: string[] = [];
    for (const media of done) {
      const accepted = await suite.api.download(INSTANCE_CRASH, body(media), { timeout: 0 });
      expect(accepted.status).toBe(202);
      jobIds.push(accepted.json<{ jobId: string }>().jobId);
    }
    for (const media of done) expectBytes(await suite.api.download(INSTANCE_CRASH, body(media)), media.sha256, media.fileLength);
    const redis = await suite.stack.redis();
    const key = `${suite.stack.prefix}:in-flight:single:${INSTANCE_CRASH}`;
    expect(await redis.command('ZCARD', key)).toBe(0);

    // As if each worker had died between the job's end and its release: the ended jobs still count.
    for (const jobId of jobIds) await redis.command('ZADD', key, Date.now(), jobId);
    expect(await redis.command('ZCARD', key)).toBe(MAX_JOBS_IN_FLIGHT);
    const next = suite.cdn.publish(randomBytes(2_000), 'audio');
    expectBytes(await suite.api.download(INSTANCE_CRASH, body(next)), next.sha256, next.fileLength);
    // The reconciliation read BullMQ's job hashes and dropped the three ended jobs.
    expect(await redis.command('ZCARD', key)).toBe(0);
  });
});

describe('batches', () => {
  const INSTANCE = 'tenant-batch';

  async function waitUntilDone(batchId: string): Promise<BatchStatus> {
    return eventually(
      async () => {
        const status = (await suite.api.get(`/api/v2/instance/${INSTANCE}/media/batch/${batchId}`, INSTANCE)).json<BatchStatus>();
        return status.done ? status : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1_000, what: 'the batch finishing' },
    );
  }

  it('accepts a batch whole while its batch jobs are under the limit, then refuses batches that need new jobs until they end; single requests have their own budget', async () => {
    const release = gate();
    const first = Array.from({ length: 6 }, () => heldMedia(release.opened));
    const accepted = await submitBatch(INSTANCE, first.map((media, i) => ({ id: `first-${i}`, ...body(media) })));
    expect(accepted.status, accepted.body.toString()).toBe(202);
    const batch = accepted.json<BatchStatus>();
    expect(batch.counts.pending).toBe(6);

    // A batch that needs one new job: refused whole.
    const late = suite.cdn.publish(randomBytes(2_000), 'document');
    const refused = await submitBatch(INSTANCE, [{ id: 'late', ...body(late) }, { id: 'again', ...body(first[0]!) }]);
    expect(expectRateLimited(refused, /6 batch jobs not yet ended, the limit is 3/)).toBe(2);
    expect(suite.cdn.countMedia(late)).toBe(0);
    // A batch whose items all join running jobs needs none: accepted.
    expect((await submitBatch(INSTANCE, [{ id: 'join', ...body(first[1]!) }])).status).toBe(202);
    // The instance's single requests are counted apart from its batches.
    const single = suite.cdn.publish(randomBytes(2_000), 'document');
    expectBytes(await suite.api.download(INSTANCE, body(single)), single.sha256, single.fileLength);

    release.open();
    expect((await waitUntilDone(batch.batchId)).counts).toMatchObject({ completed: 6, pending: 0 });
    const after = await submitBatch(INSTANCE, [{ id: 'late', ...body(late) }]);
    expect(after.status, after.body.toString()).toBe(202);
    expect((await waitUntilDone(after.json<BatchStatus>().batchId)).counts).toMatchObject({ completed: 1 });
  });
});
