/**
 * Stopping and losing processes without losing work: SIGTERM to the API (no new connections,
 * in-flight answers finish within SHUTDOWN_GRACE_MS, waiting clients get their job), SIGTERM to
 * a worker (it finishes its job, or hands it back past the grace), SIGKILL of a worker (its job
 * is recovered by stall detection after JOB_LOCK_MS), and clients that go away (their waiter and
 * the store's read stream are freed). One fs stack; each case arranges the workers it needs.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, readlink, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadBody, eventually, type DownloadBody } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes } from '../support/expectations.js';
import { gate } from '../support/gate.js';
import { jobIdOf, jobPath, jobReaches } from '../support/jobs.js';
import { waitingRequests } from '../support/prometheus.js';
import { BodyReader, connectionOutcome, rawRequest, type RawExchange } from '../support/raw-http.js';
import type { ServiceProcess } from '../support/service-process.js';

const INSTANCE = 'instance-a';
const KiB = 1024;
const MiB = 1024 * KiB;
/**
 * Long enough that what must happen inside the grace (an answer finishing, the waiters released)
 * does so even when other processes keep every core busy; the lower bounds (a process exits no
 * sooner than the grace) hold on any machine.
 */
const SHUTDOWN_GRACE_MS = 4_000;
/** Above the lock renewals a loaded worker may delay, so only a dead worker's job stalls. */
const JOB_LOCK_MS = 4_000;
/** What a process may take beyond the grace to close its connections and exit: only a hang passes it. */
const EXIT_MARGIN_MS = 15_000;

const suite = useCdnStack({ env: { SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS), JOB_LOCK_MS: String(JOB_LOCK_MS) } });

/** The stack's workers still running. */
function runningWorkers(): ServiceProcess[] {
  return suite.stack.workers.filter((worker) => worker.running);
}

/** Exactly one running worker, so the next job is known to go to it. */
async function soleWorker(): Promise<ServiceProcess> {
  const running = runningWorkers();
  if (running.length === 1) return running[0]!;
  await Promise.all(running.map((worker) => worker.stop('SIGTERM')));
  return suite.stack.startWorker();
}

/** A directly-download on a connection of its own, whose answer the test reads (or drops) itself. */
function rawDownload(body: DownloadBody, timeoutMs: number): RawExchange {
  return rawRequest(`${suite.stack.baseUrl}/api/v2/instance/${INSTANCE}/media/directly-download?timeout=${timeoutMs}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${suite.stack.token(INSTANCE)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Files of the fs store under `folder` (tmp, sha256, records), relative to the store. */
async function storeFiles(folder: string): Promise<string[]> {
  return (await suite.stack.storedFiles()).filter((file) => file.startsWith(`${folder}/`) && !file.endsWith('.ping'));
}

function storePath(file: string): string {
  return path.join(suite.stack.storeDir, file);
}

describe('SIGTERM to the API', () => {
  it('refuses new connections, finishes an answer in flight within SHUTDOWN_GRACE_MS, cuts one past it, answers waiting clients 202, exits 0', async () => {
    // Stored first: 32 MiB is far more than the socket buffers of both ends, so the API is still
    // writing it when the signal comes.
    const large = suite.cdn.publish(randomBytes(32 * MiB), 'video');
    expectBytes(await suite.api.download(INSTANCE, downloadBody(large)), large.sha256, large.fileLength);
    const slow = suite.cdn.publish(randomBytes(256 * KiB), 'document');
    suite.cdn.enqueue(slow.directPathname, { kind: 'serve', bodyDelayMs: 3_000 });
    const apiBefore = suite.stack.api;
    const apiUrl = suite.stack.baseUrl;

    const waiting = suite.api.download(INSTANCE, downloadBody(slow, { omit: ['url'] }), { timeout: 60_000 });
    await eventually(async () => ((await waitingRequests(suite.stack.baseUrl)) === 1 ? true : undefined), { what: 'one waiting request' });
    // A and B each read 1 MiB, then stall; after the signal A reads the rest at once, B never does.
    const a = new BodyReader(await rawDownload(downloadBody(large), 0).response, 8 * MiB);
    const b = new BodyReader(await rawDownload(downloadBody(large), 0).response, 8 * MiB);
    await Promise.all([a.until(1 * MiB), b.until(1 * MiB)]);
    a.setRate(0);
    b.setRate(0);

    const signalledAt = performance.now();
    apiBefore.child.kill('SIGTERM');
    a.setRate(Infinity);

    // The waiter is released at once with its job, which goes on without the API.
    const accepted = await waiting;
    expect(accepted.status, accepted.body.toString('utf8')).toBe(202);
    const { jobId, statusUrl, contentUrl } = accepted.json<{ jobId: string; statusUrl: string; contentUrl: string }>();
    expect(jobId).toBe(jobIdOf(slow));
    // Released at once, not held until the grace is over.
    expect(performance.now() - signalledAt).toBeLessThan(SHUTDOWN_GRACE_MS);
    // The listener is closed by then: a new connection is refused while A and B are still open.
    expect(await connectionOutcome(`${apiUrl}/healthz`)).toBe('refused');

    // Whole: an answer still going when the grace ends is cut (as B's is), so A finished within it.
    const fromA = await a.done;
    expect(fromA).toMatchObject({ complete: true, received: large.fileLength, sha256: large.sha256 });

    // B still holds the API open: it exits once the grace is over and B is cut off.
    const { code } = await apiBefore.exited;
    const exitedAfter = performance.now() - signalledAt;
    expect(code, apiBefore.describe()).toBe(0);
    expect(exitedAfter).toBeGreaterThanOrEqual(SHUTDOWN_GRACE_MS - 100);
    expect(exitedAfter).toBeLessThan(SHUTDOWN_GRACE_MS + EXIT_MARGIN_MS);
    b.setRate(Infinity);
    const fromB = await b.done;
    expect(fromB.complete).toBe(false);
    expect(fromB.received).toBeLessThan(large.fileLength);
    expect(apiBefore.logsWithMsg('stopped')).toHaveLength(1);

    // The job finished without the API; a new API serves it through the URLs of the 202.
    await suite.stack.startApi();
    await jobReaches(suite.api, INSTANCE, jobId, 'completed');
    expect(statusUrl).toBe(jobPath(INSTANCE, jobId));
    expectBytes(await suite.api.get(contentUrl, INSTANCE), slow.sha256, slow.fileLength);
    expect(suite.cdn.countMedia(slow)).toBe(1);
  });
});

describe('SIGTERM to a worker', () => {
  it('lets the job it is downloading finish within SHUTDOWN_GRACE_MS, then exits 0', async () => {
    const worker = await soleWorker();
    const media = suite.cdn.publish(randomBytes(256 * KiB), 'video');
    // Half the media, the rest once the worker has taken the signal: the job is running when it comes.
    const signalled = gate();
    suite.cdn.enqueue(media.directPathname, { kind: 'serve', chunkSize: 16 * KiB, holdAt: { bytes: 128 * KiB, until: signalled.opened } });
    const response = suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 30_000 });
    await eventually(async () => (suite.cdn.count(media.directPathname) === 1 ? true : undefined), { what: 'the CDN request' });

    const signalledAt = performance.now();
    worker.child.kill('SIGTERM');
    await worker.waitForLog((line) => line.msg === 'shutting down: finishing active jobs', 30_000, 'the worker shutting down');
    signalled.open();
    // Finished within the grace: the worker handed nothing back (checked below) and the CDN was asked once.
    expectBytes(await response, media.sha256, media.fileLength);

    const { code } = await worker.exited;
    expect(code, worker.describe()).toBe(0);
    expect(performance.now() - signalledAt).toBeLessThan(SHUTDOWN_GRACE_MS + EXIT_MARGIN_MS);
    expect(worker.logsWithMsg('active download jobs did not finish in time; handing them back to the queue')).toEqual([]);
    expect(worker.logsWithMsg('stopped')).toHaveLength(1);
    expect(suite.cdn.count(media.directPathname)).toBe(1);
    expect((await jobReaches(suite.api, INSTANCE, jobIdOf(media), 'completed')).attemptsMade).toBe(1);
  });

  it('hands a job still running after SIGTERM + SHUTDOWN_GRACE_MS back to the queue, where another worker completes it without a failed attempt', async () => {
    const first = await soleWorker();
    const media = suite.cdn.publish(randomBytes(256 * KiB), 'video');
    // Half the media, then nothing until the worker has exited: the job is surely running past
    // the grace. The next request is served at once.
    const firstExited = gate();
    suite.cdn.enqueue(media.directPathname, { kind: 'serve', chunkSize: 16 * KiB, holdAt: { bytes: 128 * KiB, until: firstExited.opened } });
    const response = suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 30_000 });
    await eventually(async () => (suite.cdn.count(media.directPathname) === 1 ? true : undefined), { what: 'the CDN request' });

    const signalledAt = performance.now();
    first.child.kill('SIGTERM');
    const second = await suite.stack.startWorker();

    const { code } = await first.exited;
    const exitedAfter = performance.now() - signalledAt;
    firstExited.open();
    expectBytes(await response, media.sha256, media.fileLength);
    expect(code, first.describe()).toBe(0);
    expect(exitedAfter).toBeGreaterThanOrEqual(SHUTDOWN_GRACE_MS - 100);
    expect(exitedAfter).toBeLessThan(SHUTDOWN_GRACE_MS + EXIT_MARGIN_MS);
    expect(first.logsWithMsg('active download jobs did not finish in time; handing them back to the queue')).toHaveLength(1);

    // The second worker downloaded it anew; the handed-back attempt is not counted, nor failed.
    expect(suite.cdn.count(media.directPathname)).toBe(2);
    expect(second.logsWithMsg('media stored').map((line) => line.jobId)).toContain(jobIdOf(media));
    expect((await jobReaches(suite.api, INSTANCE, jobIdOf(media), 'completed')).attemptsMade).toBe(1);
    const failures = suite.stack.logs().filter((line) => line.msg === 'attempt failed' && line.jobId === jobIdOf(media));
    expect(failures).toEqual([]);
  });
});

describe('SIGKILL of a worker', () => {
  it('recovers its job on another worker after JOB_LOCK_MS; the client gets 200 and only the verified blob is published', async () => {
    const victim = await soleWorker();
    const media = suite.cdn.publish(randomBytes(8 * MiB), 'video');
    // A quarter of the media, then nothing until the worker is killed; the retry is served at once.
    const killed = gate();
    suite.cdn.enqueue(media.directPathname, { kind: 'serve', chunkSize: 256 * KiB, holdAt: { bytes: 2 * MiB, until: killed.opened } });
    const blobsBefore = await storeFiles('sha256');
    const tempsBefore = await storeFiles('tmp');
    const response = suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 60_000 });

    // Killed once its temporary file holds part of the media.
    const partial = await eventually(
      async () => {
        for (const file of await storeFiles('tmp')) {
          if (tempsBefore.includes(file)) continue;
          const info = await stat(storePath(file)).catch(() => undefined);
          if (info && info.size > 0) return file;
        }
        return undefined;
      },
      { what: 'a partly written temporary file' },
    );
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    killed.open();
    const rescuer = await suite.stack.startWorker();

    expectBytes(await response, media.sha256, media.fileLength);
    expect(rescuer.logsWithMsg('media stored').map((line) => line.jobId)).toContain(jobIdOf(media));
    expect(suite.cdn.count(media.directPathname)).toBe(2);

    // Under content addresses: exactly the new, verified blob, and its bytes are the media.
    const blob = `sha256/${media.sha256.slice(0, 2)}/${media.sha256}`;
    expect((await storeFiles('sha256')).filter((file) => !blobsBefore.includes(file))).toEqual([blob]);
    expect((await readFile(storePath(blob))).equals(media.plaintext)).toBe(true);
    // The killed worker's partial file is still in tmp/: nobody can tell a dead writer from a slow one yet.
    expect((await storeFiles('tmp')).filter((file) => !tempsBefore.includes(file))).toEqual([partial]);
    expect((await stat(storePath(partial))).size).toBeLessThan(media.fileLength);

    // Once it is older than the sweep's age, a worker starting up removes it.
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(storePath(partial), twoHoursAgo, twoHoursAgo);
    const next = await suite.stack.startWorker();
    const swept = await next.waitForLog((line) => line.msg === 'stale temporaries removed', 10_000, '"stale temporaries removed"');
    expect(swept.removed).toBe(1);
    expect(await storeFiles('tmp')).not.toContain(partial);
    expect(await storeFiles('sha256')).toContain(blob);
  });
});

describe('clients that go away', () => {
  it('frees the waiter of a client that disconnects while the CDN is slow; the job completes anyway', async () => {
    await soleWorker();
    const media = suite.cdn.publish(randomBytes(64 * KiB), 'image');
    // The CDN answers only once the client is gone, so the request is surely still waiting then.
    const clientGone = gate();
    suite.cdn.enqueue(media.directPathname, { kind: 'serve', headersAfter: clientGone.opened });
    expect(await waitingRequests(suite.stack.baseUrl)).toBe(0);
    const exchange = rawDownload(downloadBody(media, { omit: ['url'] }), 60_000);
    await eventually(async () => ((await waitingRequests(suite.stack.baseUrl)) === 1 ? true : undefined), { what: 'one waiting request' });

    exchange.request.destroy();
    await eventually(async () => ((await waitingRequests(suite.stack.baseUrl)) === 0 ? true : undefined), {
      what: 'no waiting request',
    });
    await expect(exchange.response).rejects.toThrow();
    clientGone.open();
    await jobReaches(suite.api, INSTANCE, jobIdOf(media), 'completed');
    expectBytes(await suite.api.get(`${jobPath(INSTANCE, jobIdOf(media))}/content`, INSTANCE), media.sha256, media.fileLength);
    expect(suite.cdn.countMedia(media)).toBe(1);
  });

  it('lets go of the store file of a client that disconnects while being sent a large media', async () => {
    await soleWorker();
    const media = suite.cdn.publish(randomBytes(30 * MiB), 'document');
    expectBytes(await suite.api.download(INSTANCE, downloadBody(media)), media.sha256, media.fileLength);
    const pid = suite.stack.api.pid!;
    const blob = storePath(path.join('sha256', media.sha256.slice(0, 2), media.sha256));

    const reader = new BodyReader(await rawDownload(downloadBody(media), 0).response, 0);
    reader.setRate(Infinity);
    await reader.until(16 * KiB);
    reader.setRate(0);
    // While it is being sent, the API holds the blob open (so the check below means something).
    expect(await openFiles(pid)).toContain(blob);
    reader.abort();
    expect((await reader.done).complete).toBe(false);

    // The API keeps the files it served open for the next requests. Once the file is removed, the
    // next request for it closes the API's descriptor, unless the cut response still holds it.
    await rm(blob);
    expect((await suite.api.get(`${jobPath(INSTANCE, jobIdOf(media))}/content`, INSTANCE)).status).toBe(404);
    await eventually(async () => ((await openFiles(pid)).includes(`${blob} (deleted)`) ? undefined : true), { what: 'the removed blob closed' });
    expect(suite.stack.api.running).toBe(true);
  });
});

/** What the process's file descriptors point at (files, sockets, pipes), from /proc. */
async function openFiles(pid: number): Promise<string[]> {
  const dir = `/proc/${pid}/fd`;
  const fds = await readdir(dir);
  const targets = await Promise.all(fds.map((fd) => readlink(path.join(dir, fd)).catch(() => undefined)));
  return targets.filter((target): target is string => target !== undefined);
}
