import { Agent, request, type Dispatcher } from 'undici';
import { type CallbackPolicy } from '@wamedia/server';
import { CallbackNotAllowedError, WEBHOOK_SIGNATURE_HEADER, instanceWebhookSecret, signWebhook, type WebhookEvent } from '@wamedia/shared';
import { parseRetryAfter } from './cdn-client.js';
import { guardedAgent } from './guarded-connector.js';

/** Options of {@link WebhookSender}. */
export interface WebhookSenderOptions {
  /** WEBHOOK_SECRET: each event is signed with the key derived from it for the event's instance. */
  secret: string;
  /**
   * WEBHOOK_ALLOWED_HOSTS: checked by name before each POST, and on every address the host resolves
   * to right before each connection is opened.
   */
  policy: CallbackPolicy;
  /**
   * WEBHOOK_TIMEOUT_MS: longest one delivery may take, in ms, from the connection (DNS included)
   * to the receiver's status line.
   */
  timeoutMs: number;
  /** For tests: the clock of the signature timestamp, in unix seconds. Default: the system clock. */
  now?: () => number;
}

/** A delivered webhook: the receiver answered 2xx. */
export interface WebhookDelivery {
  status: number;
}

/** The receiver answered a status another attempt will not change: 3xx (not followed), 4xx but 408 and 429. */
export class WebhookRejectedError extends Error {
  constructor(
    readonly status: number,
    target: string,
  ) {
    super(`webhook rejected: ${target} answered HTTP ${status}${status < 400 ? ' (redirects are not followed)' : ''}`);
    this.name = 'WebhookRejectedError';
  }
}

/** The receiver could not be reached, timed out, or answered 5xx, 408 or 429: another attempt may succeed. */
export class WebhookUnavailableError extends Error {
  constructor(
    message: string,
    options?: { cause?: unknown; status?: number; retryAfterMs?: number },
  ) {
    super(message, options);
    this.name = 'WebhookUnavailableError';
    this.status = options?.status;
    this.retryAfterMs = options?.retryAfterMs;
  }
  /** The receiver's status, when it answered. */
  readonly status: number | undefined;
  /** How long the receiver asked us to wait (Retry-After), when it did. */
  readonly retryAfterMs: number | undefined;
}

/** Statuses that say "not now" rather than "never". */
const RETRYABLE_CLIENT_STATUSES = new Set([408, 429]);

const USER_AGENT = 'wamedia/0.1 (webhook delivery)';

/**
 * POSTs one webhook event: the JSON of the event, signed with a fresh timestamp at each call, to a
 * callback URL that passes the {@link CallbackPolicy}. No redirect is followed.
 *
 * Outcomes: resolves on 2xx; throws WebhookRejectedError (final) on 3xx and 4xx but 408/429,
 * WebhookUnavailableError (retryable) on 5xx, 408, 429, network errors and timeouts, and
 * CallbackNotAllowedError (final) when the URL, or an address its host resolves to, is refused.
 * Messages name the URL's origin and path only: the query may carry the receiver's token.
 */
export class WebhookSender {
  private readonly agent: Agent;
  private readonly now: () => number;

  constructor(private readonly options: WebhookSenderOptions) {
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    // Redirects stay off (no redirect interceptor): a 3xx is an answer, not a hop.
    // The policy judges every address right before connecting (see guardedConnector).
    this.agent = guardedAgent({
      check: (origin, address, family) => options.policy.assertAllowedAddress(origin, address, family),
      timeoutMs: options.timeoutMs,
      idleTimeoutMs: options.timeoutMs,
    });
  }

  /**
   * Delivers `event` to `url`.
   * @param deliveryId sent as `X-Wamedia-Delivery`, the same on every attempt, so receivers can drop repeats.
   * @throws WebhookRejectedError, WebhookUnavailableError, CallbackNotAllowedError (see the class),
   *   or `signal.reason` when aborted.
   */
  async send(url: string, event: WebhookEvent, options: { deliveryId?: string; signal?: AbortSignal } = {}): Promise<WebhookDelivery> {
    const target = parseCallbackUrl(url);
    this.options.policy.assertAllowedUrl(target);
    const body = JSON.stringify(event);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      [WEBHOOK_SIGNATURE_HEADER.toLowerCase()]: signWebhook(instanceWebhookSecret(this.options.secret, event.instanceId), body, this.now()),
      'x-wamedia-event': event.type,
    };
    if (options.deliveryId) headers['x-wamedia-delivery'] = options.deliveryId;
    const response = await this.post(target, body, headers, options.signal);
    return classify(target, response);
  }

  /** Lets deliveries still running finish (bounded by the timeout), then closes the connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private async post(
    target: URL,
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<Dispatcher.ResponseData> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    try {
      return await request(target, {
        dispatcher: this.agent,
        method: 'POST',
        headers,
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof CallbackNotAllowedError) throw error;
      const why = timeout.aborted ? `no answer within ${this.options.timeoutMs} ms` : errorCode(error);
      throw new WebhookUnavailableError(`webhook to ${redact(target)} failed (${why})`, { cause: error });
    }
  }
}

/** @throws WebhookRejectedError or WebhookUnavailableError for anything but 2xx. */
async function classify(target: URL, response: Dispatcher.ResponseData): Promise<WebhookDelivery> {
  const { statusCode: status, headers, body } = response;
  // The receiver's answer is not used; drain a small one so the connection is reused, drop a large one.
  await body.dump().catch(() => undefined);
  if (status >= 200 && status < 300) return { status };
  if (status >= 500 || RETRYABLE_CLIENT_STATUSES.has(status)) {
    throw new WebhookUnavailableError(`webhook to ${redact(target)} answered HTTP ${status}`, {
      status,
      retryAfterMs: parseRetryAfter(headers['retry-after']),
    });
  }
  throw new WebhookRejectedError(status, redact(target));
}

function parseCallbackUrl(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new CallbackNotAllowedError('(unparsable URL)', 'is not a valid URL');
  }
}

/** Origin and path only: the query of a callback URL often carries the receiver's token. */
function redact(url: URL): string {
  return url.origin + url.pathname;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown error';
}
