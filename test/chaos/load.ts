/**
 * The soak's load: steady synchronous clients (each sends a download, waits for its answer, sends
 * the next) and a batch client (a batch of a few items every few seconds, with a callback URL on
 * the webhook receiver). Half the requests name a new media, half one asked before (a cache hit,
 * or a join of a job still running). Every request is logged with its answer, or with the error
 * that ended it; none waits past its own deadline, after which it counts as hung.
 */
import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';
import type { ServiceProcess } from '../support/service-process.js';
import type { Catalogue, CatalogueMedia } from './catalogue.js';
import type { Prng } from './prng.js';
import type { ChaosStack } from './stack.js';

/** Instances the synchronous clients ask as. */
export const SYNC_INSTANCES = ['chaos-a', 'chaos-b', 'chaos-c'];
/** The instance of every batch: the receiver checks signatures with its webhook secret. */
export const BATCH_INSTANCE = 'chaos-batch';
const SYNC_CLIENTS = 4;
/** How long past its `timeout` a request may go unanswered before it counts as hung. */
const ANSWER_GRACE_MS = 90_000;

const agent = new Agent({ connections: null, keepAliveTimeout: 1_000 });

/** One request of the load and how it ended. */
export interface SentRequest {
  kind: 'download' | 'batch';
  /** The API process it went to. */
  api: ServiceProcess;
  /** The instance it was sent as (the owner of its jobs). */
  instance: string;
  sentAt: number;
  answeredAt: number;
  status?: number;
  /** A network error, or 'hung' when the deadline passed without an answer. */
  error?: string;
  /** download: the media asked for. */
  media?: CatalogueMedia;
  /** download: whether a 200's body hashed to the media's SHA-256. */
  bytesRight?: boolean;
  /** 202: the jobs accepted (one for a download, one per item that has one for a batch), with their media. */
  jobs?: { jobId: string; media: CatalogueMedia }[];
  /** batch: its id, the receiver's path of its webhooks, and its items, by id. */
  batchId?: string;
  callbackPath?: string;
  items?: Map<string, CatalogueMedia>;
  /** The start of the body of an answer other than 200 and 202, for messages. */
  body?: string;
}

export interface HttpAnswer {
  status: number;
  body: Buffer;
}

/** One HTTP call to an API process, as `instanceId`; rejects on a network error or past `deadlineMs`. */
export async function callApi(
  chaos: ChaosStack,
  baseUrl: string,
  method: 'GET' | 'POST',
  path: string,
  instanceId: string,
  deadlineMs: number,
  body?: unknown,
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { authorization: `Bearer ${chaos.stack.token(instanceId)}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await request(`${baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    dispatcher: agent,
    signal: AbortSignal.timeout(deadlineMs),
    headersTimeout: deadlineMs,
    bodyTimeout: deadlineMs,
  });
  return { status: response.statusCode, body: Buffer.from(await response.body.arrayBuffer()) };
}

export class Load {
  readonly sent: SentRequest[] = [];
  private stopping = false;
  private readonly running: Promise<void>[] = [];
  private batchSequence = 0;

  constructor(
    private readonly chaos: ChaosStack,
    private readonly catalogue: Catalogue,
    /** One PRNG per client, so each client's choices follow from the seed whatever the timing. */
    private readonly prngs: { sync: Prng[]; batch: Prng },
    private readonly callbackBase: string,
  ) {}

  start(): void {
    for (let i = 0; i < SYNC_CLIENTS; i++) this.running.push(this.syncClient(this.prngs.sync[i]!));
    this.running.push(this.batchClient(this.prngs.batch));
  }

  /** Stops sending and resolves once every request sent has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  private media(prng: Prng): CatalogueMedia {
    return prng.chance(0.5) ? this.catalogue.create() : this.catalogue.known();
  }

  private async syncClient(prng: Prng): Promise<void> {
    while (!this.stopping) {
      const media = this.media(prng);
      const timeout = prng.weighted({ '0': 20, '5000': 20, '30000': 60 });
      const instance = prng.pick(SYNC_INSTANCES);
      const path = `/api/v2/instance/${instance}/media/directly-download?timeout=${timeout}`;
      const { sent, answer } = await this.send('download', prng, path, instance, Number(timeout) + ANSWER_GRACE_MS, media.body);
      sent.media = media;
      if (answer?.status === 200) sent.bytesRight = createHash('sha256').update(answer.body).digest('hex') === media.sha256;
      else if (answer) sent.body = answer.body.toString('utf8').slice(0, 500);
      if (answer?.status === 202) sent.jobs = [{ jobId: (JSON.parse(answer.body.toString('utf8')) as { jobId: string }).jobId, media }];
      this.sent.push(sent);
      await new Promise((resolve) => setTimeout(resolve, prng.int(0, 300)));
    }
  }

  private async batchClient(prng: Prng): Promise<void> {
    while (!this.stopping) {
      await new Promise((resolve) => setTimeout(resolve, prng.int(2_000, 6_000)));
      if (this.stopping) return;
      const items = new Map<string, CatalogueMedia>();
      const count = prng.int(2, 8);
      for (let i = 0; i < count; i++) items.set(`item-${i}`, this.media(prng));
      const hook = `/chaos/${++this.batchSequence}`;
      const body = {
        items: [...items].map(([id, media]) => ({ id, ...media.body })),
        callbackUrl: `${this.callbackBase}${hook}`,
      };
      const path = `/api/v2/instance/${BATCH_INSTANCE}/media/batch`;
      const { sent, answer } = await this.send('batch', prng, path, BATCH_INSTANCE, ANSWER_GRACE_MS, body);
      sent.items = items;
      sent.callbackPath = hook;
      if (answer && answer.status !== 202) sent.body = answer.body.toString('utf8').slice(0, 500);
      if (answer?.status === 202) {
        const status = JSON.parse(answer.body.toString('utf8')) as { batchId: string; items: { id: string; jobId?: string }[] };
        sent.batchId = status.batchId;
        sent.jobs = status.items.flatMap((item) => (item.jobId ? [{ jobId: item.jobId, media: items.get(item.id)! }] : []));
      }
      this.sent.push(sent);
    }
  }

  /**
   * Sends one request to a live API process; resolves with how it ended and, when answered, the
   * whole body.
   */
  private async send(
    kind: SentRequest['kind'],
    prng: Prng,
    path: string,
    instance: string,
    deadlineMs: number,
    body: unknown,
  ): Promise<{ sent: SentRequest; answer?: HttpAnswer }> {
    const live = this.chaos.liveApis();
    const slot = live.length > 0 ? prng.pick(live) : prng.pick(this.chaos.apis);
    const sentAt = Date.now();
    try {
      const answer = await callApi(this.chaos, slot.url, 'POST', path, instance, deadlineMs, body);
      return { sent: { kind, api: slot.process, instance, sentAt, answeredAt: Date.now(), status: answer.status }, answer };
    } catch (error) {
      const hung = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError' || /timeout/i.test(error.message));
      return { sent: { kind, api: slot.process, instance, sentAt, answeredAt: Date.now(), error: hung ? 'hung' : String(error) } };
    }
  }
}
