/**
 * Fault injection: network partitions. Each worker runs in a network namespace of its own (see
 * NetnsLab), with two links to this host: one to the test's Redis, one to the fake CDN, each of
 * which the test cuts and heals by itself. Packets on a cut link vanish: the worker is told
 * nothing, as on a real network.
 *
 * - A worker cut off from Redis in the middle of a download loses the job to another worker
 *   once its lock (JOB_LOCK_MS) expires; the other one completes it. When the link heals, the
 *   cut-off worker's late result is dropped: nothing is published a second time, the index
 *   stays as the rescuer left it, the job is not failed, and the drop is counted as
 *   wamedia_jobs_total{outcome="lock_lost"}.
 * - A worker cut off from Redis takes no job; the others do; healed, it takes jobs again.
 * - A worker cut off from the CDN is a CDN failure like any other: its attempt fails as
 *   CDN_UNAVAILABLE and is retried, and the job completes once the CDN is reachable.
 *
 * The API runs on this host and reaches Redis on 127.0.0.1; the namespaces reach only the
 * host's ends of their own links. Needs root (CI runs as root): the suite skips, saying why,
 * where it cannot make namespaces.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, downloadBody, eventually } from '../support/api-client.js';
import { expectBytes } from '../support/expectations.js';
import { FakeCdn, type PublishedMedia } from '../support/fake-cdn.js';
import { gate } from '../support/gate.js';
import { jobIdOf, jobPath, jobReaches, type JobStatusBody } from '../support/jobs.js';
import { NetnsLab, type Netns } from '../support/netns.js';
import { Metrics } from '../support/prometheus.js';
import { RedisClient } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';
import type { ServiceProcess } from '../support/service-process.js';
import { Stack } from '../support/stack.js';
import { expectSoundStore } from '../support/store-audit.js';

const INSTANCE = 'instance-faults-partition';
const KiB = 1024;
const WORKERS = 2;
const JOB_LOCK_MS = 2_000;
/** Long enough that a download held for a partition test is not given up on first; short enough for the CDN cut test. */
const CDN_IDLE_TIMEOUT_MS = 10_000;

const unavailable = await NetnsLab.unavailable();
if (unavailable) console.warn(`test/faults/partition.test.ts skipped: ${unavailable}`);

/** One worker of the suite and the namespace it runs in. */
interface PartitionedWorker {
  service: ServiceProcess;
  ns: Netns;
}

describe.skipIf(unavailable !== undefined)('network partitions (workers in network namespaces of their own)', () => {
  let lab: NetnsLab | undefined;
  let redis: RedisServer | undefined;
  let cdn: FakeCdn | undefined;
  let stack: Stack | undefined;
  let api: ApiClient;
  const workers: PartitionedWorker[] = [];

  beforeAll(async () => {
    lab = await NetnsLab.create();
    const namespaces: Netns[] = [];
    for (let i = 0; i < WORKERS; i++) namespaces.push(await lab.addNamespace(['redis', 'cdn']));
    redis = await RedisServer.start({ bind: namespaces.map((ns) => ns.link('redis').hostAddress) });
    // The CDN listens on the host's end of the first namespace's CDN link; the others reach that
    // address through their own CDN links.
    const cdnAddress = namespaces[0]!.link('cdn').hostAddress;
    cdn = await FakeCdn.start(cdnAddress);
    for (const ns of namespaces.slice(1)) await ns.route(cdnAddress, 'cdn');
    stack = await Stack.start({
      workers: 0,
      cdn,
      redisUrl: redis.url,
      env: {
        JOB_LOCK_MS: String(JOB_LOCK_MS),
        JOB_ATTEMPTS: '10',
        JOB_BACKOFF_MS: '200',
        CDN_IDLE_TIMEOUT_MS: String(CDN_IDLE_TIMEOUT_MS),
      },
    });
    api = new ApiClient(stack);
    const services = await Promise.all(
      namespaces.map((ns) => stack!.startWorker({ REDIS_URL: redis!.urlAt(ns.link('redis').hostAddress) }, ns.launcher)),
    );
    workers.push(...services.map((service, i) => ({ service, ns: namespaces[i]! })));
  });

  afterAll(async () => {
    try {
      // Whole again, so the workers stop as they would anywhere (and the stack can delete its keys).
      for (const { ns } of workers) for (const link of ns.links.values()) await link.heal();
      await stack?.stop();
    } finally {
      await Promise.all([redis?.remove(), cdn?.close()]);
      await lab?.remove();
    }
  });

  /** The worker whose CDN link `address` is on (where its CDN requests come from). */
  const workerAt = (address: string | undefined): PartitionedWorker => {
    const found = workers.find(({ ns }) => ns.link('cdn').nsAddress === address);
    if (!found) throw new Error(`no worker of the suite has the address ${address}`);
    return found;
  };

  /** The worker's /metrics, read through its link `via` (one the test has not cut). */
  const metricsOf = async ({ service, ns }: PartitionedWorker, via: 'redis' | 'cdn'): Promise<Metrics> => {
    const port = Number(service.logsWithMsg('worker ready')[0]?.healthPort);
    return Metrics.scrape(`http://${ns.link(via).nsAddress}:${port}/metrics`);
  };

  const outcomes = async (worker: PartitionedWorker, via: 'redis' | 'cdn') => {
    const metrics = await metricsOf(worker, via);
    const count = (outcome: string) => metrics.sum('wamedia_jobs_total', { outcome });
    return { completed: count('completed'), failed: count('failed'), retried: count('retried'), lockLost: count('lock_lost') };
  };

  /** The addresses of the clients connected to the suite's Redis. */
  const redisClientAddresses = async (): Promise<string[]> => {
    const client = await RedisClient.connect(redis!.url);
    try {
      const list = String(await client.command('CLIENT', 'LIST'));
      return [...list.matchAll(/\baddr=([\d.]+):\d+/g)].map((match) => match[1]!);
    } finally {
      await client.close();
    }
  };

  const publish = (bytes: number): PublishedMedia => cdn!.publish(randomBytes(bytes), 'document');

  it('runs each worker in its namespace: Redis and the CDN see them only at their own links\' addresses', async () => {
    const clients = await redisClientAddresses();
    for (const { ns } of workers) expect(clients).toContain(ns.link('redis').nsAddress);
    const media = publish(64 * KiB);
    expectBytes(await api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 60_000 }), media.sha256, media.fileLength);
    const requests = cdn!.requests.filter((request) => request.pathname === media.directPathname);
    expect(requests).toHaveLength(1);
    expect(workers.map(({ ns }) => ns.link('cdn').nsAddress)).toContain(requests[0]!.remoteAddress);
  });

  it('a worker cut off from Redis mid-download loses the job to another once its lock expires; its late result publishes nothing, fails nothing and is counted as lock_lost', async () => {
    const media = publish(1024 * KiB);
    const jobId = jobIdOf(media);
    // The first download stops at 256 KiB until the test lets it go on; any later one is served whole.
    const resume = gate();
    cdn!.enqueue(media.directPathname, { kind: 'serve', chunkSize: 64 * KiB, holdAt: { bytes: 256 * KiB, until: resume.opened } });
    const batchPath = `/api/v2/instance/${INSTANCE}/media/batch`;
    const batch = await api.call('POST', batchPath, {
      instanceId: INSTANCE,
      body: JSON.stringify({ items: [{ id: 'partitioned', ...downloadBody(media, { omit: ['url'] }) }] }),
    });
    expect(batch.status, batch.body.toString()).toBe(202);
    const waiting = api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 120_000 });

    const first = await eventually(async () => cdn!.requests.find((request) => request.pathname === media.directPathname && request.bytesSent >= 256 * KiB), {
      what: 'the first download held at 256 KiB',
    });
    const victim = workerAt(first.remoteAddress);
    const before = await outcomes(victim, 'cdn');
    await victim.ns.link('redis').cut();

    // Stall detection gives the job to another worker once the victim's lock has expired.
    const second = await eventually(async () => cdn!.requests.filter((request) => request.pathname === media.directPathname)[1], {
      timeoutMs: 90_000,
      what: 'the job downloaded again by another worker',
    });
    const rescuer = workerAt(second.remoteAddress);
    expect(rescuer).not.toBe(victim);
    // The victim may now finish its download and verify it: it cannot publish before it hears from Redis.
    resume.open();
    const done = await jobReaches(api, INSTANCE, jobId, 'completed', 90_000);
    expect(done.result).toMatchObject({ sha256: media.sha256, size: media.fileLength });
    expectBytes(await waiting, media.sha256, media.fileLength);

    await victim.ns.link('redis').heal();
    // Healed, the victim hears from Redis again, and learns that the lock is no longer its own
    // before it publishes anything (a victim without the check logs "media stored" instead).
    const late = await victim.service.waitForLog(
      (line) => line.jobId === jobId && (line.msg?.startsWith('job lock lost') === true || line.msg === 'media stored'),
      90_000,
      'what became of its late result',
    );
    expect(late.msg).toMatch(/^job lock lost/);

    // The late result is dropped: nothing published, nobody told, no failure recorded.
    expect(victim.service.logsWithMsg('media stored').filter((line) => line.jobId === jobId)).toEqual([]);
    expect(rescuer.service.logsWithMsg('media stored').map((line) => line.jobId)).toContain(jobId);
    const after = await outcomes(victim, 'cdn');
    expect(after.lockLost - before.lockLost).toBe(1);
    expect(after.failed - before.failed).toBe(0);
    expect(after.completed - before.completed).toBe(0);
    const status = (await api.get(jobPath(INSTANCE, jobId), INSTANCE)).json<JobStatusBody>();
    expect(status).toMatchObject({ status: 'completed', result: { sha256: media.sha256, size: media.fileLength } });
    expect(status.error).toBeUndefined();
    const batchStatus = (await api.get(`${batchPath}/${batch.json().batchId}`, INSTANCE)).json();
    expect(batchStatus).toMatchObject({ done: true, counts: { completed: 1, failed: 0, pending: 0 } });
    expect(cdn!.count(media.directPathname)).toBe(2);
    // The index names the one blob, whole; the victim's temporary object was discarded.
    const audit = await expectSoundStore(stack!);
    expect(audit.blobs).toContain(media.sha256);
    expectBytes(await api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 60_000 }), media.sha256, media.fileLength);
    expect(cdn!.count(media.directPathname)).toBe(2);
  });

  it('a worker cut off from Redis takes no job while the others do; healed, it takes jobs again by itself', async () => {
    for (const [i, cutOff] of workers.entries()) {
      const other = workers[(i + 1) % workers.length]!;
      await cutOff.ns.link('redis').cut();
      try {
        const media = publish(32 * KiB + i);
        expectBytes(await api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 60_000 }), media.sha256, media.fileLength);
        const requests = cdn!.requests.filter((request) => request.pathname === media.directPathname);
        expect(requests.map((request) => workerAt(request.remoteAddress))).toEqual([other]);
      } finally {
        await cutOff.ns.link('redis').heal();
      }
      // Back by itself: its Redis connections work again (its readiness checks Redis).
      await eventually(
        async () => {
          const response = await fetch(`http://${cutOff.ns.link('cdn').nsAddress}:${Number(cutOff.service.logsWithMsg('worker ready')[0]?.healthPort)}/readyz`);
          return response.status === 200 ? true : undefined;
        },
        { timeoutMs: 90_000, what: `${cutOff.service.name} ready again` },
      );
    }
    // Each took the job of the round where the other one was cut off: both work again.
    expect(workers.every(({ service }) => service.running)).toBe(true);
  });

  it('a worker cut off from the CDN mid-download fails that attempt as a CDN failure; the job is retried and completes', async () => {
    const media = publish(512 * KiB);
    const jobId = jobIdOf(media);
    const never = gate();
    cdn!.enqueue(media.directPathname, { kind: 'serve', chunkSize: 64 * KiB, holdAt: { bytes: 128 * KiB, until: never.opened } });
    const waiting = api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 120_000 });
    const first = await eventually(async () => cdn!.requests.find((request) => request.pathname === media.directPathname && request.bytesSent >= 128 * KiB), {
      what: 'the download held at 128 KiB',
    });
    const cutOff = workerAt(first.remoteAddress);
    const before = await outcomes(cutOff, 'redis');
    await cutOff.ns.link('cdn').cut();
    try {
      // Nothing more arrives: the idle timeout ends the attempt, as it does any stalled CDN.
      await cutOff.service.waitForLog(
        (line) => line.msg === 'attempt failed' && line.jobId === jobId && String(line.reason).includes('CDN_UNAVAILABLE'),
        CDN_IDLE_TIMEOUT_MS + 60_000,
        'the attempt failed as CDN_UNAVAILABLE',
      );
    } finally {
      await cutOff.ns.link('cdn').heal();
      never.open();
    }
    expectBytes(await waiting, media.sha256, media.fileLength);
    const done = await jobReaches(api, INSTANCE, jobId, 'completed', 90_000);
    expect(done.attemptsMade).toBeGreaterThanOrEqual(2);
    const after = await outcomes(cutOff, 'redis');
    expect(after.retried - before.retried).toBeGreaterThanOrEqual(1);
    expect(after.failed - before.failed).toBe(0);
    expect(after.lockLost - before.lockLost).toBe(0);
    await expectSoundStore(stack!);
  });

  it('a worker that cannot reach the CDN at all retries as CDN_UNAVAILABLE until it can', async () => {
    const [cutOff, other] = workers as [PartitionedWorker, PartitionedWorker];
    // Only the cut-off worker can take the job: the other one is away from Redis meanwhile.
    await other.ns.link('redis').cut();
    await cutOff.ns.link('cdn').cut();
    const media = publish(48 * KiB);
    const jobId = jobIdOf(media);
    try {
      const accepted = await api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 0 });
      expect(accepted.status, accepted.body.toString()).toBe(202);
      await eventually(
        async () => {
          const failures = cutOff.service.logsWithMsg('attempt failed').filter((line) => line.jobId === jobId);
          return failures.length >= 2 ? failures : undefined;
        },
        { timeoutMs: 90_000, what: 'two attempts failed' },
      );
      for (const line of cutOff.service.logsWithMsg('attempt failed').filter((l) => l.jobId === jobId)) {
        expect(String(line.reason)).toContain('CDN_UNAVAILABLE');
      }
      expect(cdn!.count(media.directPathname)).toBe(0);
    } finally {
      await cutOff.ns.link('cdn').heal();
      await other.ns.link('redis').heal();
    }
    const done = await jobReaches(api, INSTANCE, jobId, 'completed', 90_000);
    expect(done.result).toMatchObject({ sha256: media.sha256, size: media.fileLength });
    expect(cdn!.count(media.directPathname)).toBe(1);
    await expectSoundStore(stack!);
  });
});
