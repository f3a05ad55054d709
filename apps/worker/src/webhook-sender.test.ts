import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CallbackPolicy, createLogger, redisConnectionOptions } from '@wamedia/server';
import {
  CallbackNotAllowedError,
  WEBHOOK_BACKOFF,
  WEBHOOK_JOB,
  WEBHOOK_QUEUE,
  instanceWebhookSecret,
  verifyWebhook,
  type WebhookEvent,
  type WebhookJobData,
} from '@wamedia/shared';
import { deleteKeysUnder } from '../../../test/support/redis-client.js';
import { WebhookRejectedError, WebhookSender, WebhookUnavailableError, type WebhookSenderOptions } from './webhook-sender.js';
import { WebhookWorker } from './webhook-worker.js';
import { WorkerMetrics } from './worker-metrics.js';

const SECRET = 'webhook-secret-for-tests-0123456789';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Answer = (res: ServerResponse) => void;

/**
 * A webhook receiver on 127.0.0.1: answers each request with the next queued answer (200 once
 * they run out), records what it got, and counts the TCP connections it accepted.
 */
class Receiver {
  readonly received: Received[] = [];
  readonly answers: Answer[] = [];
  connections = 0;
  private readonly server = createServer((req, res) => {
    void text(req).then((body) => {
      this.received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      (this.answers.shift() ?? status(200))(res);
    });
  });

  private constructor() {
    this.server.on('connection', () => this.connections++);
  }

  static async start(): Promise<Receiver> {
    const receiver = new Receiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<port>` */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const status =
  (code: number, headers: Record<string, string> = {}): Answer =>
  (res) =>
    res.writeHead(code, headers).end('receiver says hi');

const itemEvent: WebhookEvent = {
  type: 'batch.item',
  batchId: 'batch-1',
  instanceId: 'instance-a',
  item: {
    id: 'photo-1',
    status: 'completed',
    jobId: 'dl-abc',
    contentUrl: '/api/v2/instance/instance-a/media/jobs/dl-abc/content',
    result: { sha256: 'ab'.repeat(32), size: 1234, mimetype: 'image/jpeg' },
  },
};

/** The key both events (of instance-a) are signed with. */
const INSTANCE_SECRET = instanceWebhookSecret(SECRET, 'instance-a');

const doneEvent: WebhookEvent = {
  type: 'batch.done',
  batchId: 'batch-1',
  instanceId: 'instance-a',
  counts: { pending: 0, completed: 3, failed: 1, invalid: 0 },
};

let receiver: Receiver;
const senders: WebhookSender[] = [];

function sender(allowedHosts: string[], options: Partial<WebhookSenderOptions> = {}): WebhookSender {
  const created = new WebhookSender({ secret: SECRET, policy: new CallbackPolicy(allowedHosts), timeoutMs: 2_000, ...options });
  senders.push(created);
  return created;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  receiver = await Receiver.start();
});

afterEach(() => {
  receiver.received.length = 0;
  receiver.answers.length = 0;
  receiver.connections = 0;
});

afterAll(async () => {
  await Promise.all(senders.map((s) => s.close()));
  await receiver.close();
});

describe('WebhookSender', () => {
  describe('to an explicitly allowed origin', () => {
    it('POSTs the event as JSON with a signature the receiver can verify', async () => {
      const delivery = await sender([receiver.origin]).send(`${receiver.origin}/hooks/wamedia?token=abc`, itemEvent, {
        deliveryId: 'job-42',
      });

      expect(delivery).toEqual({ status: 200 });
      expect(receiver.received).toHaveLength(1);
      const [request] = receiver.received;
      expect(request!.method).toBe('POST');
      expect(request!.path).toBe('/hooks/wamedia?token=abc');
      expect(request!.headers['content-type']).toBe('application/json');
      expect(request!.headers['x-wamedia-event']).toBe('batch.item');
      expect(request!.headers['x-wamedia-delivery']).toBe('job-42');
      expect(request!.headers['user-agent']).toMatch(/^wamedia\//);
      const signature = request!.headers['x-wamedia-signature'];
      expect(typeof signature).toBe('string');
      expect(verifyWebhook(INSTANCE_SECRET, request!.body, signature as string)).toBe(true);
      expect(verifyWebhook('another-secret-0123456789', request!.body, signature as string)).toBe(false);
      // Each instance's events are signed with its own key: not WEBHOOK_SECRET, not another instance's.
      expect(verifyWebhook(SECRET, request!.body, signature as string)).toBe(false);
      expect(verifyWebhook(instanceWebhookSecret(SECRET, 'instance-b'), request!.body, signature as string)).toBe(false);
      expect(verifyWebhook(INSTANCE_SECRET, request!.body.replace('photo-1', 'photo-2'), signature as string)).toBe(false);
      expect(JSON.parse(request!.body)).toEqual(itemEvent);
    });

    it('signs each attempt with a fresh timestamp', async () => {
      let clock = 1_700_000_000;
      const send = sender([receiver.origin], { now: () => clock });
      await send.send(`${receiver.origin}/hook`, doneEvent);
      clock += 60;
      await send.send(`${receiver.origin}/hook`, doneEvent);

      const [first, second] = receiver.received.map((r) => r.headers['x-wamedia-signature'] as string);
      expect(first).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
      expect(second).toMatch(/^t=1700000060,v1=[0-9a-f]{64}$/);
      expect(verifyWebhook(INSTANCE_SECRET, receiver.received[1]!.body, second!, { now: clock })).toBe(true);
      expect(receiver.received[1]!.headers['x-wamedia-event']).toBe('batch.done');
    });

    it('accepts any 2xx', async () => {
      receiver.answers.push(status(204), status(202));
      const send = sender([receiver.origin]);
      expect(await send.send(`${receiver.origin}/hook`, doneEvent)).toEqual({ status: 204 });
      expect(await send.send(`${receiver.origin}/hook`, doneEvent)).toEqual({ status: 202 });
    });

    it('exempts an explicit origin that names localhost from the address check', async () => {
      const origin = `http://localhost:${receiver.port}`;
      await expect(sender([origin]).send(`${origin}/hook`, doneEvent)).resolves.toEqual({ status: 200 });
      expect(receiver.received).toHaveLength(1);
    });
  });

  describe('refusals: no connection is made', () => {
    it('refuses 127.0.0.1 when it is not an explicit origin, even with *', async () => {
      const error = await failure(sender(['*']).send(`${receiver.origin}/hook`, doneEvent));
      expect(error).toBeInstanceOf(CallbackNotAllowedError);
      expect(receiver.connections).toBe(0);
    });

    it('refuses a name that resolves to a private address (localhost), checked on the resolved address', async () => {
      const policy = new CallbackPolicy(['*']);
      const url = `http://localhost:${receiver.port}/hook?token=secret-token`;
      // The name passes: only the address it resolves to is refused, right before connecting.
      expect(policy.allows(new URL(url))).toBe(true);

      const error = await failure(sender(['*']).send(url, doneEvent));
      expect(error).toBeInstanceOf(CallbackNotAllowedError);
      expect(error.message).toMatch(/non-public address \((127\.0\.0\.1|::1)\)/);
      expect(error.message).not.toContain('secret-token');
      expect(receiver.connections).toBe(0);
    });

    it('refuses another port of an allowed origin', async () => {
      const error = await failure(sender([`http://127.0.0.1:${receiver.port + 1}`]).send(`${receiver.origin}/hook`, doneEvent));
      expect(error).toBeInstanceOf(CallbackNotAllowedError);
      expect(receiver.connections).toBe(0);
    });

    it('refuses a URL that does not parse', async () => {
      await expect(sender(['*']).send('not a url', doneEvent)).rejects.toBeInstanceOf(CallbackNotAllowedError);
    });
  });

  describe('answers', () => {
    it.each([500, 502, 503, 408, 429])('HTTP %i may be retried', async (code) => {
      receiver.answers.push(status(code));
      const error = await failure(sender([receiver.origin]).send(`${receiver.origin}/hook?token=secret-token`, doneEvent));
      expect(error).toBeInstanceOf(WebhookUnavailableError);
      expect((error as WebhookUnavailableError).status).toBe(code);
      expect(error.message).toContain(`${receiver.origin}/hook`);
      expect(error.message).not.toContain('secret-token');
    });

    it('reads Retry-After', async () => {
      receiver.answers.push(status(429, { 'retry-after': '7' }));
      const error = await failure(sender([receiver.origin]).send(`${receiver.origin}/hook`, doneEvent));
      expect((error as WebhookUnavailableError).retryAfterMs).toBe(7_000);
    });

    it.each([400, 401, 403, 404, 410, 422])('HTTP %i is final', async (code) => {
      receiver.answers.push(status(code));
      const error = await failure(sender([receiver.origin]).send(`${receiver.origin}/hook`, doneEvent));
      expect(error).toBeInstanceOf(WebhookRejectedError);
      expect((error as WebhookRejectedError).status).toBe(code);
    });

    it('does not follow a redirect: a 3xx is a final failure', async () => {
      receiver.answers.push(status(302, { location: `${receiver.origin}/elsewhere` }));
      const error = await failure(sender([receiver.origin]).send(`${receiver.origin}/hook`, doneEvent));
      expect(error).toBeInstanceOf(WebhookRejectedError);
      expect(error.message).toContain('redirects are not followed');
      expect(receiver.received.map((r) => r.path)).toEqual(['/hook']);
    });

    it('times out a receiver that does not answer', async () => {
      receiver.answers.push(() => undefined);
      const started = Date.now();
      const error = await failure(sender([receiver.origin], { timeoutMs: 300 }).send(`${receiver.origin}/hook`, doneEvent));
      expect(error).toBeInstanceOf(WebhookUnavailableError);
      expect(error.message).toContain('no answer within 300 ms');
      // Far below a receiver that never answers; loose enough for a loaded machine.
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('reports a receiver that is not listening as retryable', async () => {
      const gone = await Receiver.start();
      const origin = gone.origin;
      await gone.close();
      const error = await failure(sender([origin]).send(`${origin}/hook`, doneEvent));
      expect(error).toBeInstanceOf(WebhookUnavailableError);
      expect(error.message).toContain('ECONNREFUSED');
    });
  });
});

describe('WebhookWorker on a real queue', () => {
  const prefix = `wamedia-test-webhooks-${randomUUID().slice(0, 8)}`;
  const connection = redisConnectionOptions(REDIS_URL);
  const metrics = new WorkerMetrics();
  let queue: Queue<WebhookJobData>;
  let events: QueueEvents;
  let worker: WebhookWorker;

  beforeAll(async () => {
    queue = new Queue(WEBHOOK_QUEUE, { connection, prefix });
    events = new QueueEvents(WEBHOOK_QUEUE, { connection, prefix });
    worker = new WebhookWorker(sender([receiver.origin]), {
      connection,
      prefix,
      backoffMs: 50,
      logger: createLogger({ level: 'silent', name: 'webhook-test' }),
      metrics,
    });
    await Promise.all([worker.ready(), events.waitUntilReady()]);
  });

  afterAll(async () => {
    await worker?.stop(1_000);
    await events?.close();
    await queue?.obliterate({ force: true });
    await queue?.close();
    // Nothing of ours may stay behind in the shared Redis.
    await deleteKeysUnder(REDIS_URL, prefix);
  });

  /** Adds a job the way the producers do (WebhookOutbox) and waits for it to end. */
  async function deliver(attempts: number): Promise<{ state: string; attemptsMade: number; failedReason: string }> {
    const job = await queue.add(WEBHOOK_JOB, { url: `${receiver.origin}/hook?token=t`, event: doneEvent }, {
      attempts,
      backoff: { type: WEBHOOK_BACKOFF },
    });
    await job.waitUntilFinished(events, 10_000).catch(() => undefined);
    const ended = (await queue.getJob(job.id!))!;
    return { state: await ended.getState(), attemptsMade: ended.attemptsMade, failedReason: ended.failedReason };
  }

  async function outcome(name: string): Promise<number> {
    const metric = await metrics.registry.getSingleMetric('wamedia_webhooks_total')!.get();
    return metric.values.find((v) => v.labels.outcome === name)?.value ?? 0;
  }

  it('retries a 500, then delivers on the 200', async () => {
    receiver.answers.push(status(500));
    const result = await deliver(3);

    expect(result.state).toBe('completed');
    expect(receiver.received).toHaveLength(2);
    // Both attempts carry a valid signature and the same delivery id.
    for (const request of receiver.received) {
      expect(verifyWebhook(INSTANCE_SECRET, request.body, request.headers['x-wamedia-signature'] as string)).toBe(true);
    }
    expect(receiver.received[0]!.headers['x-wamedia-delivery']).toBe(receiver.received[1]!.headers['x-wamedia-delivery']);
    expect(await outcome('retried')).toBe(1);
    expect(await outcome('delivered')).toBe(1);
  });

  it('does not retry a 400', async () => {
    receiver.answers.push(status(400));
    const result = await deliver(3);

    expect(result.state).toBe('failed');
    expect(receiver.received).toHaveLength(1);
    expect(result.failedReason).toContain('HTTP 400');
    expect(result.failedReason).not.toContain('token=');
    expect(await outcome('failed')).toBe(1);
  });

  it('gives up when the attempts run out', async () => {
    receiver.answers.push(status(503), status(503));
    const result = await deliver(2);

    expect(result.state).toBe('failed');
    expect(result.attemptsMade).toBe(2);
    expect(receiver.received).toHaveLength(2);
    expect(await outcome('failed')).toBe(2);
  });
});
