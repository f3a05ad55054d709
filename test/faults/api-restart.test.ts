/**
 * Fault injection: the API goes away while clients wait for their downloads, killed (SIGKILL:
 * no goodbye) or stopped (SIGTERM: waiting clients are answered 202 with their job). Either
 * way each client gets a clean outcome (a connection error it can retry, or a job it can
 * follow), the workers finish the jobs without any API, and a new API serves them: the job
 * routes show them completed, and the same request again is answered from the store without
 * a second download.
 *
 * One fs stack, one worker, SHUTDOWN_GRACE_MS = 10000 (so that "at once" is told apart from
 * "after the grace" however loaded the machine). Each case gets three clients waiting for media
 * the CDN answers only once the API is gone.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { downloadBody, eventually, type DownloadBody } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes } from '../support/expectations.js';
import { type PublishedMedia } from '../support/fake-cdn.js';
import { gate, type Gate } from '../support/gate.js';
import { jobIdOf, jobPath, jobReaches } from '../support/jobs.js';
import { waitingRequests } from '../support/prometheus.js';
import { connectionOutcome, rawRequest, type RawExchange } from '../support/raw-http.js';
import { expectSoundStore } from '../support/store-audit.js';

const INSTANCE = 'instance-faults-api';
const KiB = 1024;
const SHUTDOWN_GRACE_MS = 10_000;
/** How soon a client hears that its API died: the kernel closes the sockets at once. */
const AT_ONCE_MS = 5_000;
const CLIENTS = 3;

const suite = useCdnStack({ env: { SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS) } });

/** A directly-download on a connection of its own, waiting up to a minute. */
function waitingDownload(body: DownloadBody): RawExchange {
  return rawRequest(`${suite.stack.baseUrl}/api/v2/instance/${INSTANCE}/media/directly-download?timeout=60000`, {
    method: 'POST',
    headers: { authorization: `Bearer ${suite.stack.token(INSTANCE)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/**
 * Three media the CDN answers once `apiGone` is opened, and a client waiting for each; resolves
 * once all three wait.
 */
async function clientsWaiting(): Promise<{ media: PublishedMedia[]; exchanges: RawExchange[]; apiGone: Gate }> {
  const apiGone = gate();
  const media = Array.from({ length: CLIENTS }, (_, i) => suite.cdn.publish(randomBytes((100 + i) * KiB), 'audio'));
  for (const m of media) suite.cdn.enqueue(m.directPathname, { kind: 'serve', headersAfter: apiGone.opened });
  const exchanges = media.map((m) => waitingDownload(downloadBody(m, { omit: ['url'] })));
  await eventually(async () => ((await waitingRequests(suite.stack.baseUrl)) === CLIENTS ? true : undefined), { what: `${CLIENTS} waiting requests` });
  return { media, exchanges, apiGone };
}

/** The job of `media` completed by the worker (with or without an API), as its log says. */
async function storedByWorker(media: PublishedMedia): Promise<void> {
  const jobId = jobIdOf(media);
  await suite.stack.workers[0]!.waitForLog((line) => line.msg === 'media stored' && line.jobId === jobId, 60_000, `"media stored" of ${jobId}`);
}

/** On the current API: the job completed, its content served, the same request answered from the store. */
async function expectServedByNewApi(media: PublishedMedia): Promise<void> {
  const jobId = jobIdOf(media);
  const status = await jobReaches(suite.api, INSTANCE, jobId, 'completed');
  expect(status.result).toMatchObject({ sha256: media.sha256, size: media.fileLength });
  expectBytes(await suite.api.get(`${jobPath(INSTANCE, jobId)}/content`, INSTANCE), media.sha256, media.fileLength);
  expectBytes(await suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] })), media.sha256, media.fileLength);
  expect(suite.cdn.count(media.directPathname)).toBe(1);
}

describe('the API SIGKILLed while clients wait', () => {
  it('each client gets a connection error at once; the jobs complete without an API and a new API serves them', async () => {
    const { media, exchanges, apiGone } = await clientsWaiting();
    const old = suite.stack.api;
    const oldUrl = suite.stack.baseUrl;
    const killedAt = performance.now();
    old.child.kill('SIGKILL');

    const outcomes = await Promise.all(
      exchanges.map((exchange) =>
        exchange.response.then(
          (response) => ({ status: response.statusCode, code: undefined, at: performance.now() }),
          (error: NodeJS.ErrnoException) => ({ status: undefined, code: error.code ?? error.message, at: performance.now() }),
        ),
      ),
    );
    for (const outcome of outcomes) {
      expect(outcome.status).toBeUndefined();
      // A reset or a closed connection: what any HTTP client reports as a network error, safe to retry.
      expect(outcome.code).toMatch(/^(ECONNRESET|socket hang up)$/);
      expect(outcome.at - killedAt).toBeLessThan(AT_ONCE_MS);
    }
    expect((await old.exited).signal).toBe('SIGKILL');
    apiGone.open();
    // While no API runs: refused, not hanging.
    expect(await connectionOutcome(`${oldUrl}/healthz`)).toBe('refused');

    // The worker needs no API to finish the jobs.
    await Promise.all(media.map(storedByWorker));
    await suite.stack.startApi();
    for (const m of media) await expectServedByNewApi(m);
    await expectSoundStore(suite.stack);
  });
});

describe('the API SIGTERMed while clients wait', () => {
  it('each client gets 202 with its job at once; the API exits 0; the jobs complete and a new API serves them', async () => {
    const { media, exchanges, apiGone } = await clientsWaiting();
    const old = suite.stack.api;
    const oldUrl = suite.stack.baseUrl;
    const signalledAt = performance.now();
    old.child.kill('SIGTERM');

    const answers = await Promise.all(
      exchanges.map(async (exchange) => {
        const response = await exchange.response;
        const chunks: Buffer[] = [];
        for await (const chunk of response) chunks.push(chunk as Buffer);
        return { status: response.statusCode, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), at: performance.now() };
      }),
    );
    for (const [i, answer] of answers.entries()) {
      const jobId = jobIdOf(media[i]!);
      expect(answer.status).toBe(202);
      expect(answer.body).toEqual({
        jobId,
        status: expect.stringMatching(/^(waiting|active)$/),
        statusUrl: jobPath(INSTANCE, jobId),
        contentUrl: `${jobPath(INSTANCE, jobId)}/content`,
      });
      // Released at once, not held until the grace is over.
      expect(answer.at - signalledAt).toBeLessThan(SHUTDOWN_GRACE_MS);
    }
    // Nothing else in flight: it exits at once, with 0, and refuses connections meanwhile.
    expect(await connectionOutcome(`${oldUrl}/healthz`)).toBe('refused');
    expect(await old.exited).toEqual({ code: 0, signal: null });
    expect(performance.now() - signalledAt).toBeLessThan(SHUTDOWN_GRACE_MS);
    apiGone.open();

    await suite.stack.startApi();
    for (const m of media) await expectServedByNewApi(m);
    await expectSoundStore(suite.stack);
  });
});
