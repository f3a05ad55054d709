/**
 * A callback receiver for the webhook suites: an HTTP server on a loopback address that verifies
 * each signature with its instance's webhook secret (derived from WEBHOOK_SECRET; a suite reads it
 * from the API with {@link WebhookReceiver.useSecretOf}), records every event by path, answers 500
 * to the first N POSTs of a path on demand, and lets a test wait for the event it expects.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WEBHOOK_SIGNATURE_HEADER, verifyWebhook, type WebhookEvent } from '@wamedia/shared';
import type { ApiClient } from './api-client.js';

export interface Delivery {
  event: WebhookEvent;
  verified: boolean;
  path: string;
  /** The body and signature as received, to check them against other secrets. */
  body: string;
  signature: string;
  /** X-Wamedia-Delivery: the event's id, the same on every retry. */
  deliveryId: string;
}

export class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  readonly hits = new Map<string, number>();
  /** Answers 500 to the first N POSTs of a path. */
  readonly failFirst = new Map<string, number>();
  private readonly delivered = new EventEmitter();

  private constructor(
    private readonly server: Server,
    /** The secret signatures are checked with: the instance's own (see useSecretOf). */
    public secret: string,
  ) {}

  /**
   * Starts a receiver on `host` (default 127.0.0.1), on a free port, checking signatures with
   * `secret` (none verifies until one is set, by useSecretOf or by hand).
   */
  static async start(secret = '', host = '127.0.0.1'): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server, secret);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = req.url ?? '/';
        const hits = (receiver.hits.get(path) ?? 0) + 1;
        receiver.hits.set(path, hits);
        if (hits <= (receiver.failFirst.get(path) ?? 0)) return res.writeHead(500).end();
        const body = Buffer.concat(chunks).toString();
        const signature = String(req.headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()] ?? '');
        const verified = receiver.secret !== '' && verifyWebhook(receiver.secret, body, signature);
        const deliveryId = String(req.headers['x-wamedia-delivery'] ?? '');
        const delivery = { event: JSON.parse(body) as WebhookEvent, verified, path, body, signature, deliveryId };
        receiver.deliveries.push(delivery);
        res.writeHead(204).end();
        receiver.delivered.emit('delivery', delivery);
      });
    });
    server.listen(0, host);
    await once(server, 'listening');
    return receiver;
  }

  /**
   * Verifies from now on with the webhook secret of `instanceId`, as its receiver would: read from
   * the API's webhook-secret route with the instance's token. Resolves to that secret.
   */
  async useSecretOf(api: ApiClient, instanceId: string): Promise<string> {
    const answer = await api.get(`/api/v2/instance/${instanceId}/webhook-secret`, instanceId);
    if (answer.status !== 200) throw new Error(`webhook-secret of ${instanceId}: ${answer.status} ${answer.body.toString()}`);
    this.secret = answer.json<{ secret: string }>().secret;
    return this.secret;
  }

  get origin(): string {
    const { address, port } = this.server.address() as AddressInfo;
    return `http://${address}:${port}`;
  }

  events(path: string): WebhookEvent[] {
    return this.deliveries.filter((d) => d.path === path).map((d) => d.event);
  }

  /**
   * Resolves with the first event POSTed to `path` that `matches` (one already received counts);
   * rejects after `timeoutMs`.
   */
  async next<T extends WebhookEvent>(path: string, matches: (event: WebhookEvent) => event is T, timeoutMs = 20_000): Promise<T> {
    const found = this.events(path).find(matches);
    if (found) return found;
    return new Promise((resolve, reject) => {
      const onDelivery = (delivery: Delivery) => {
        if (delivery.path !== path || !matches(delivery.event)) return;
        clearTimeout(timer);
        this.delivered.off('delivery', onDelivery);
        resolve(delivery.event as T);
      };
      const timer = setTimeout(() => {
        this.delivered.off('delivery', onDelivery);
        reject(new Error(`no matching webhook at ${path} within ${timeoutMs} ms (got ${JSON.stringify(this.events(path))})`));
      }, timeoutMs);
      this.delivered.on('delivery', onDelivery);
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Narrows a webhook event to one type, for {@link WebhookReceiver.next}. */
export function ofType<K extends WebhookEvent['type']>(type: K) {
  return (event: WebhookEvent): event is Extract<WebhookEvent, { type: K }> => event.type === type;
}
