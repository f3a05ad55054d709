/**
 * Fault injection: Redis stopped for 5 s under steady load. The Redis is the test's own (its own
 * port, AOF on with an fsync per write, as in production), so its stop and restart touch no
 * other run. While it is down, every request that needs the queue is answered 503 in the error
 * shape, promptly; the API and the workers stay up and reconnect by themselves once it is back;
 * and every job acknowledged with 202 (before the outage, or around it) completes after it,
 * as do the clients that were waiting through it.
 *
 * One fs stack on that Redis, two workers; a new media every 100 ms, answered at once
 * (timeout=0), the CDN answering each 300 ms late so that jobs are always in flight. The outage
 * is longer than JOB_LOCK_MS (2 s): no worker can renew a lock meanwhile, and the jobs still end once.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { downloadBody, eventually, type ApiResponse } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import { type PublishedMedia } from '../support/fake-cdn.js';
import { gate } from '../support/gate.js';
import { jobIdOf, jobPath, jobReaches, jobSettles, workerUrl } from '../support/jobs.js';
import { expectSoundStore } from '../support/store-audit.js';

const INSTANCE = 'instance-faults-redis';
const KiB = 1024;
const OUTAGE_MS = 5_000;
/** How long a request may take to be answered 503 while Redis is down: far below a hang, loose enough for a loaded machine. */
const UNAVAILABLE_WITHIN_MS = 10_000;
const JOB_LOCK_MS = 2_000;
const LOAD_INTERVAL_MS = 100;

const suite = useCdnStack({ privateRedis: { appendOnly: true }, workers: 2, env: { JOB_ATTEMPTS: '6', JOB_BACKOFF_MS: '200', JOB_LOCK_MS: String(JOB_LOCK_MS) } });

/** One request of the load, and how it was answered. */
interface Sent {
  media: PublishedMedia;
  sentAt: number;
  answeredAt: number;
  response?: ApiResponse;
  error?: string;
}

/**
 * Sends a new media every LOAD_INTERVAL_MS with timeout=0 until stop() resolves with every
 * answer; `answered` holds those in so far.
 */
function steadyLoad(): { answered: Sent[]; stop(): Promise<Sent[]> } {
  const pending: Promise<Sent>[] = [];
  const answered: Sent[] = [];
  const send = () => {
    const media = suite.cdn.publish(randomBytes(8 * KiB + pending.length), 'document');
    suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', headerDelayMs: 300 });
    const sentAt = performance.now();
    pending.push(
      suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 0 }).then(
        (response) => ({ media, sentAt, answeredAt: performance.now(), response }),
        (error: Error) => ({ media, sentAt, answeredAt: performance.now(), error: String(error) }),
      ).then((sent) => {
        answered.push(sent);
        return sent;
      }),
    );
  };
  send();
  const timer = setInterval(send, LOAD_INTERVAL_MS);
  return {
    answered,
    stop: async () => {
      clearInterval(timer);
      return Promise.all(pending);
    },
  };
}

function describeSent(sent: Sent, origin: number): string {
  const what = sent.response ? `HTTP ${sent.response.status} ${sent.response.body.toString('utf8').slice(0, 200)}` : sent.error;
  return `sent at ${Math.round(sent.sentAt - origin)} ms, answered after ${Math.round(sent.answeredAt - sent.sentAt)} ms: ${what}`;
}

describe('Redis stopped for 5 s under steady load', () => {
  it('answers 503 promptly while it is down, stays up, reconnects by itself, and completes every job acknowledged with 202', async () => {
    const origin = performance.now();
    const load = steadyLoad();
    await eventually(async () => (load.answered.filter((sent) => sent.response?.status === 202).length > 5 ? true : undefined), {
      what: 'some jobs accepted before the outage',
    });

    // Clients waiting through the outage: their jobs are running when Redis goes, and their
    // CDN answers come only once it is down.
    const redisDown = gate();
    const waitedMedia = [0, 1].map((i) => suite.cdn.publish(randomBytes(64 * KiB + i), 'video'));
    for (const media of waitedMedia) suite.cdn.enqueue(media.directPathname, { kind: 'serve', headersAfter: redisDown.opened });
    const waiting = waitedMedia.map((media) => suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 60_000 }));
    await eventually(async () => (waitedMedia.every((m) => suite.cdn.count(m.directPathname) === 1) ? true : undefined), {
      what: 'the waited media requested',
    });

    // A batch, to be followed during the outage.
    const batchItem = suite.cdn.publish(randomBytes(8 * KiB), 'image');
    const batchPath = `/api/v2/instance/${INSTANCE}/media/batch`;
    const batchBody = (id: string) => JSON.stringify({ items: [{ id, ...downloadBody(batchItem) }] });
    const batch = await suite.api.call('POST', batchPath, { instanceId: INSTANCE, body: batchBody('before') });
    expect(batch.status, batch.body.toString()).toBe(202);

    await suite.redis.stop();
    const stoppedAt = performance.now();
    redisDown.open();
    // Every route that needs Redis: 503 in the error shape, at once. (The processes notice the
    // outage as soon as their connections close; they get no other help.)
    const firstJob = jobIdOf(waitedMedia[0]!);
    const routes: [string, () => Promise<ApiResponse>][] = [
      ['GET /readyz', () => suite.api.call('GET', '/readyz', {})],
      ['GET a job', () => suite.api.get(jobPath(INSTANCE, firstJob), INSTANCE)],
      ["GET a job's content", () => suite.api.get(`${jobPath(INSTANCE, firstJob)}/content`, INSTANCE)],
      ['POST a batch', () => suite.api.call('POST', batchPath, { instanceId: INSTANCE, body: batchBody('during') })],
      ['GET a batch', () => suite.api.get(`${batchPath}/${batch.json().batchId}`, INSTANCE)],
    ];
    for (const [what, call] of routes) {
      const started = performance.now();
      const response = await call();
      expect(performance.now() - started, what).toBeLessThan(UNAVAILABLE_WITHIN_MS);
      expect(response.status, `${what}: ${response.body.toString()}`).toBe(503);
      expectError(response, 503, /[Rr]edis/);
    }
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (performance.now() - stoppedAt)));
    await suite.redis.restart();
    const restartedAt = performance.now();
    // Load goes on until the API has reconnected and accepted a few jobs again.
    const backAt = await eventually(
      async () => {
        const after = load.answered.filter((sent) => sent.sentAt > restartedAt && sent.response?.status === 202);
        return after.length >= 5 ? Math.min(...after.map((sent) => sent.sentAt)) : undefined;
      },
      { what: 'jobs accepted again after the restart' },
    );
    const answers = await load.stop();

    // Every request got an answer of the contract: accepted, or 503 in the error shape. None
    // failed otherwise (500, a dropped connection), and none waited long.
    const wrong = answers.filter((sent) => !sent.response || ![202, 503].includes(sent.response.status));
    expect(wrong.map((sent) => describeSent(sent, origin))).toEqual([]);
    const during = answers.filter((sent) => sent.sentAt > stoppedAt + 100 && sent.sentAt < restartedAt - 300);
    // A loaded machine sends fewer than one per interval; what counts is that some were sent.
    expect(during.length).toBeGreaterThanOrEqual(OUTAGE_MS / LOAD_INTERVAL_MS / 5);
    for (const sent of during) {
      expect(sent.response!.status, describeSent(sent, origin)).toBe(503);
      expectError(sent.response!, 503, /Redis/);
    }
    const slow = answers.filter((sent) => sent.answeredAt - sent.sentAt > UNAVAILABLE_WITHIN_MS);
    expect(slow.map((sent) => describeSent(sent, origin))).toEqual([]);

    // Nobody died; everybody reconnected by themselves.
    expect(suite.stack.processes.filter((p) => !p.running).map((p) => p.describe())).toEqual([]);
    await eventually(async () => ((await suite.api.call('GET', '/readyz', {})).status === 200 ? true : undefined), {
      what: "the API's /readyz answering 200 again",
    });
    for (const worker of suite.stack.workers) {
      await eventually(async () => ((await fetch(workerUrl(worker, '/readyz'))).status === 200 ? true : undefined), {
        what: `${worker.name}'s /readyz answering 200 again`,
      });
    }
    // Accepted after the restart, too: once the first is, every later one is.
    const afterwards = answers.filter((sent) => sent.sentAt >= backAt);
    expect(afterwards.length).toBeGreaterThanOrEqual(5);
    for (const sent of afterwards) expect(sent.response!.status, describeSent(sent, origin)).toBe(202);

    // Every job acknowledged with 202 completes, and serves the right bytes.
    const accepted = answers.filter((sent) => sent.response?.status === 202);
    expect(accepted.filter((sent) => sent.sentAt < stoppedAt).length).toBeGreaterThan(5);
    for (const { media, response } of accepted) {
      expect(response!.json().jobId).toBe(jobIdOf(media));
      const done = await jobReaches(suite.api, INSTANCE, jobIdOf(media), 'completed');
      expect(done.result).toMatchObject({ sha256: media.sha256, size: media.fileLength });
      expectBytes(await suite.api.get(`${jobPath(INSTANCE, jobIdOf(media))}/content`, INSTANCE), media.sha256, media.fileLength);
    }
    // So does the batch accepted before it.
    const batchDone = await eventually(
      async () => {
        const status = (await suite.api.get(`${batchPath}/${batch.json().batchId}`, INSTANCE)).json();
        return status.done ? status : undefined;
      },
      { what: 'the batch done' },
    );
    expect(batchDone.counts).toMatchObject({ completed: 1, failed: 0 });
    // The clients that waited through the outage get their media.
    for (const [i, response] of (await Promise.all(waiting)).entries()) {
      expectBytes(response, waitedMedia[i]!.sha256, waitedMedia[i]!.fileLength);
    }
    // A new request, start to end, as if nothing had happened.
    const fresh = suite.cdn.publish(randomBytes(20 * KiB), 'image');
    expectBytes(await suite.api.download(INSTANCE, downloadBody(fresh), { timeout: 60_000 }), fresh.sha256, fresh.fileLength);

    // A request answered 503 may still have queued its job (the add reached Redis, its reply did
    // not come back): such a job may be writing a temporary object, so the audit waits for it.
    for (const { media } of answers.filter((sent) => sent.response?.status === 503)) {
      await jobSettles(suite.api, INSTANCE, jobIdOf(media));
    }
    await expectSoundStore(suite.stack);
  });
});
