import { FlowProducer, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../../../test/support/prometheus.js';
import { RedisServer } from '../../../../test/support/redis-server.js';
import { AWAITING_JOB_STATES, QUEUE_DEMAND_METRIC, QUEUE_JOBS_METRIC, QueueDepthMetrics } from './queue-depth-metrics.js';

const PREFIX = 'depth-test';

/** Jobs put in each state on purpose, so that every count has a different expected value. */
const EXPECTED = { waiting: 2, prioritized: 3, delayed: 4, active: 1, 'waiting-children': 1 } as const;

describe('the queue depth gauges, on a real Redis with jobs in every awaiting state', () => {
  let server: RedisServer;
  let redis: Redis;
  let downloads: Queue;
  let worker: Worker;
  let flows: FlowProducer;
  let scrape: Metrics;

  beforeAll(async () => {
    server = await RedisServer.start();
    const connection = { host: '127.0.0.1', port: server.port };
    redis = new Redis(server.url);
    downloads = new Queue('media-download', { connection, prefix: PREFIX });
    flows = new FlowProducer({ connection, prefix: PREFIX });
    // Taken first, while it is the only job: the worker holds it active (no processor runs).
    await downloads.add('download', { n: 'active' });
    worker = new Worker('media-download', null, { connection, prefix: PREFIX, autorun: false });
    const taken = await worker.getNextJob('test-token', { block: false });
    expect(taken?.data).toEqual({ n: 'active' });
    for (let i = 0; i < EXPECTED.waiting; i++) await downloads.add('download', { n: `waiting ${i}` });
    // wamedia's batch jobs: a priority puts them in a sorted set, not in the wait list.
    for (let i = 0; i < EXPECTED.prioritized; i++) await downloads.add('download', { n: `batch ${i}` }, { priority: 10 });
    for (let i = 0; i < EXPECTED.delayed; i++) await downloads.add('download', { n: `retry ${i}` }, { delay: 3_600_000 });
    // A parent waits for its child, which sits in another queue so as not to count here.
    await flows.add({ name: 'parent', queueName: 'media-download', children: [{ name: 'child', queueName: 'children' }] });

    scrape = Metrics.parse(await new QueueDepthMetrics([downloads]).render());
  });

  afterAll(async () => {
    await Promise.allSettled([worker?.close(true), downloads?.close(), flows?.close()]);
    redis?.disconnect();
    await server?.remove();
  });

  it(`exports ${QUEUE_JOBS_METRIC} for each awaiting state, with its exact count`, () => {
    for (const state of AWAITING_JOB_STATES) {
      expect(scrape.find(QUEUE_JOBS_METRIC, { queue: 'media-download', state }), `${state}\n${scrape.text}`).toEqual([
        { name: QUEUE_JOBS_METRIC, labels: { queue: 'media-download', state }, value: EXPECTED[state] },
      ]);
    }
    expect(scrape.find(QUEUE_JOBS_METRIC, { queue: 'media-download' })).toHaveLength(AWAITING_JOB_STATES.length);
  });

  it(`exports ${QUEUE_DEMAND_METRIC} as waiting + prioritized + active, leaving out delayed jobs and jobs waiting for their children`, () => {
    expect(scrape.find(QUEUE_DEMAND_METRIC)).toEqual([
      { name: QUEUE_DEMAND_METRIC, labels: { queue: 'media-download' }, value: EXPECTED.waiting + EXPECTED.prioritized + EXPECTED.active }
    ]);
  });

  it('sees the prioritized jobs that LLEN of the wait list (what a Redis list scaler reads) misses', async () => {
    const waitList = await redis.llen(`${PREFIX}:media-download:wait`);
    expect(waitList).toBe(EXPECTED.waiting);
    expect(scrape.sum(QUEUE_DEMAND_METRIC, { queue: 'media-download' }) - EXPECTED.active - waitList).toBe(EXPECTED.prioritized);
  });

  it('reads the counts anew at every render', async () => {
    await downloads.add('download', { n: 'one more' }, { priority: 10 });
    const again = Metrics.parse(await new QueueDepthMetrics([downloads]).render());
    expect(again.sum(QUEUE_JOBS_METRIC, { queue: 'media-download', state: 'prioritized' })).toBe(EXPECTED.prioritized + 1);
  });
});

describe('the queue depth gauges while Redis is away', () => {
  let server: RedisServer;
  let queue: Queue;

  beforeAll(async () => {
    server = await RedisServer.start();
    // As the API connects its queue: commands refused at once while disconnected.
    queue = new Queue('media-download', {
      connection: { host: '127.0.0.1', port: server.port, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 200 },
      prefix: PREFIX,
    });
    queue.on('error', () => undefined);
    await queue.waitUntilReady();
  });

  afterAll(async () => {
    await queue?.close().catch(() => undefined);
    await server?.remove();
  });

  it('rejects instead of rendering the figures of the last scrape, which an autoscaler would take for the present', async () => {
    const metrics = new QueueDepthMetrics([queue]);
    await queue.add('download', { n: 1 });
    expect(Metrics.parse(await metrics.render()).sum(QUEUE_DEMAND_METRIC)).toBe(1);
    await server.stop();
    await expect(metrics.render()).rejects.toThrow();
  });
});
