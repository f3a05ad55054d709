import type { LookupFunction } from 'node:net';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { type HostAllowList } from '@wamedia/server';
import {
  CdnUnavailableError,
  HostNotAllowedError,
  InvalidFieldError,
  MediaExpiredError,
  MediaTooLargeError,
} from '@wamedia/shared';
import { guardedAgent } from './guarded-connector.js';

/** Options of {@link CdnClient}. */
export interface CdnClientOptions {
  /**
   * Where a directPath is fetched (MEDIA_CDN_BASE_URL), e.g. `https://mmg.whatsapp.net`; the
   * directPath is appended to it. It must itself pass `allowList`. No default here: see the config.
   */
  baseUrl: string;
  /**
   * The origins a request may go to (MEDIA_ALLOWED_HOSTS). Checked before every request sent (the
   * first one and each redirect hop) by name, and right before every connection on the addresses
   * the host resolves to (non-public ones only for explicit origins).
   */
  allowList: HostAllowList;
  /** Longest wait for a connection (TCP, and TLS for https) to a CDN host, in ms. */
  connectTimeoutMs: number;
  /**
   * Longest silence allowed while reading a response, in ms: between sending the request and
   * the end of the headers, and between two chunks of the body (not the whole transfer).
   * undici checks the headers timeout on a coarse clock, so it may fire up to a second late.
   */
  idleTimeoutMs: number;
  /**
   * Longest one download may take in all, in ms (CDN_TOTAL_TIMEOUT_MS): from the first request,
   * through redirects and the directPath → url fallback, to the body's last byte. It ends a CDN
   * that trickles a byte just within `idleTimeoutMs`, for ever. Past it: CdnUnavailableError.
   * No limit when absent.
   */
  totalTimeoutMs?: number;
  /**
   * Largest media accepted, in bytes (MAX_MEDIA_BYTES). A larger Content-Length fails before the
   * body is read; a body that streams more fails while streaming. Both with MediaTooLargeError.
   */
  maxBytes: number;
  /** Redirects followed from one reference before giving up with CdnUnavailableError. Default: 5. */
  maxRedirects?: number;
  /**
   * Resolves CDN host names; every address it answers is checked against `allowList` before the
   * connection is opened. Default: dns.lookup. Tests map names to chosen addresses with it.
   */
  lookup?: LookupFunction;
}

/** Where one media can be fetched; at least one of the two is needed. */
export interface MediaRef {
  /** A path on the CDN (`/v/t62.7118-24/...`), fetched from `baseUrl`. Tried first. */
  directPath?: string;
  /** A full URL (`https://mmg.whatsapp.net/...?oh=..&oe=..`). Tried when directPath is absent or failed. */
  url?: string;
}

/** A CDN answer whose body is still to be read. */
export interface CdnResponse {
  /**
   * The bytes, as they arrive. The stream errors with MediaTooLargeError past `maxBytes`, with
   * CdnUnavailableError when the transfer breaks off (idle timeout, reset, short of Content-Length),
   * and with the signal's reason when aborted. Destroy it to drop the connection early.
   */
  body: Readable;
  /** The declared Content-Length in bytes, when the CDN sent one. */
  contentLength: number | undefined;
  /** Which reference of the {@link MediaRef} answered. */
  source: 'directPath' | 'url';
  /** Origin and path of the URL that answered (after redirects), without the signed query: safe to log. */
  url: string;
}

const DEFAULT_MAX_REDIRECTS = 5;

// The CDN checks where a request comes from; WhatsApp's own web client is the origin it knows.
const REQUEST_HEADERS = {
  origin: 'https://web.whatsapp.com',
  'user-agent': 'wamedia/0.1 (WhatsApp media downloader)',
};

/** 403, 404 and 410 mean the link expired or never existed: asking again cannot help. */
const EXPIRED_STATUSES = new Set([403, 404, 410]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

interface Candidate {
  source: CdnResponse['source'];
  reference: string;
}

/**
 * Opens media on the WhatsApp CDN: the directPath first, then the url, only on allow-listed
 * hosts, with redirects followed by hand so each hop is checked too. A host must pass the allow
 * list by name, and the address it resolves to must be public unless its origin is an explicit
 * entry (checked in the connection's own lookup, so DNS rebinding cannot slip in between).
 *
 * Fallback rules, when a reference fails:
 * - expired (403/404/410), CDN trouble (5xx, 429, other statuses, network, timeouts, redirect
 *   loops), a host outside the allow list, or a malformed reference: the next reference is tried;
 * - too large, or aborted: stop at once, the other reference names the same media;
 * - when every reference failed, the most hopeful failure is thrown: CdnUnavailableError first
 *   (a later attempt may succeed, so the job retries), then MediaExpiredError (the CDN itself said
 *   the media is gone), then the refusals (host not allowed, malformed); among equals, the last.
 *
 * Statuses other than 200, redirects and 403/404/410 (400, 401, 408, 429, 5xx, 2xx other than 200,
 * ...) count as CdnUnavailableError: the CDN misbehaving rather than a verdict on the media, so
 * they get the job's bounded retries and end as 502 instead of telling the client to re-upload.
 */
export class CdnClient {
  private readonly agent: Agent;
  private readonly maxRedirects: number;

  constructor(private readonly options: CdnClientOptions) {
    this.maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    // Redirects stay off (no redirect interceptor): follow() checks each hop against the allow list
    // by name; the connector checks the address every connection (each hop's included) goes to.
    this.agent = guardedAgent({
      check: (origin, address, family) => options.allowList.assertAllowedAddress(origin, address, family),
      timeoutMs: options.connectTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      lookup: options.lookup,
    });
  }

  /**
   * Opens the media's body, trying `ref.directPath` then `ref.url`.
   * @throws MediaExpiredError, CdnUnavailableError, MediaTooLargeError, HostNotAllowedError,
   *   InvalidFieldError (see the class for which one wins), or `signal.reason` when aborted.
   */
  async open(ref: MediaRef, signal?: AbortSignal): Promise<CdnResponse> {
    const deadline = this.deadline(signal);
    const failures: unknown[] = [];
    try {
      for (const candidate of candidates(ref)) {
        try {
          const response = await this.openCandidate(candidate, deadline.signal);
          response.body.once('close', deadline.clear);
          return response;
        } catch (error) {
          if (deadline.signal.aborted || !fallsThrough(error)) throw error;
          failures.push(error);
        }
      }
    } catch (error) {
      deadline.clear();
      throw error;
    }
    deadline.clear();
    throw mostHopeful(failures) ?? new InvalidFieldError('content', 'needs a url or a directPath');
  }

  /**
   * `signal`, also aborted (with a retryable CdnUnavailableError) once totalTimeoutMs has passed;
   * clear() stops the clock when the download has ended.
   */
  private deadline(signal: AbortSignal | undefined): { signal: AbortSignal; clear: () => void } {
    const { totalTimeoutMs } = this.options;
    if (totalTimeoutMs === undefined) return { signal: signal ?? new AbortController().signal, clear: () => undefined };
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort(new CdnUnavailableError(`the download took longer than ${totalTimeoutMs} ms (CDN_TOTAL_TIMEOUT_MS)`));
    }, totalTimeoutMs);
    const follow = () => controller.abort(signal!.reason);
    if (signal?.aborted) follow();
    else signal?.addEventListener('abort', follow, { once: true });
    return {
      signal: controller.signal,
      clear: () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', follow);
      },
    };
  }

  /** Lets requests still running finish (bounded by the idle timeout), then closes the connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private async openCandidate(candidate: Candidate, signal: AbortSignal | undefined): Promise<CdnResponse> {
    const { url, response } = await this.follow(this.candidateUrl(candidate), signal);
    assertOk(url, response);
    const contentLength = parseContentLength(response.headers['content-length']);
    if (contentLength !== undefined && contentLength > this.options.maxBytes) {
      discard(response.body);
      throw new MediaTooLargeError(this.options.maxBytes);
    }
    const guard = new BodyGuard(this.options.maxBytes, contentLength, redact(url));
    return { body: guard.pipeFrom(response.body, signal), contentLength, source: candidate.source, url: redact(url) };
  }

  private candidateUrl({ source, reference }: Candidate): URL {
    if (source === 'url') return parseUrl(reference, 'url');
    // Appended, never resolved against baseUrl: with its leading "/", "//evil.example" or
    // "@evil.example" stays a path on the CDN instead of naming another host.
    if (!reference.startsWith('/')) throw new InvalidFieldError('directPath', 'must start with "/"');
    return parseUrl(this.options.baseUrl.replace(/\/+$/, '') + reference, 'directPath');
  }

  /** Sends the request and follows up to maxRedirects redirects; returns the first non-redirect answer. */
  private async follow(first: URL, signal: AbortSignal | undefined): Promise<{ url: URL; response: Dispatcher.ResponseData }> {
    let url = first;
    for (let hop = 0; hop <= this.maxRedirects; hop++) {
      const response = await this.send(url, signal);
      const location = redirectLocation(response);
      if (location === undefined) return { url, response };
      discard(response.body);
      url = resolveRedirect(location, url);
    }
    throw new CdnUnavailableError(`more than ${this.maxRedirects} redirects from ${redact(first)}`);
  }

  private async send(url: URL, signal: AbortSignal | undefined): Promise<Dispatcher.ResponseData> {
    this.options.allowList.assertAllowed(url);
    try {
      return await request(url, { dispatcher: this.agent, method: 'GET', headers: REQUEST_HEADERS, signal });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      // The connector refused the address the host resolved to: no connection was opened.
      if (error instanceof HostNotAllowedError) throw error;
      throw new CdnUnavailableError(`request to ${redact(url)} failed (${errorCode(error)})`, { cause: error });
    }
  }
}

function candidates(ref: MediaRef): Candidate[] {
  const list: Candidate[] = [];
  if (ref.directPath) list.push({ source: 'directPath', reference: ref.directPath });
  if (ref.url) list.push({ source: 'url', reference: ref.url });
  return list;
}

/** The failures that say something about one reference only, so the other may still work. */
function fallsThrough(error: unknown): boolean {
  return rank(error) > 0;
}

function rank(error: unknown): number {
  if (error instanceof CdnUnavailableError) return 3;
  if (error instanceof MediaExpiredError) return 2;
  if (error instanceof HostNotAllowedError || error instanceof InvalidFieldError) return 1;
  return 0;
}

function mostHopeful(failures: unknown[]): unknown {
  return failures.reduce((best, failure) => (rank(failure) >= rank(best) ? failure : best), undefined);
}

function parseUrl(value: string, field: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new InvalidFieldError(field, 'is not a valid URL');
  }
}

function redirectLocation(response: Dispatcher.ResponseData): string | undefined {
  if (!REDIRECT_STATUSES.has(response.statusCode)) return undefined;
  const location = response.headers.location;
  return typeof location === 'string' && location !== '' ? location : undefined;
}

function resolveRedirect(location: string, from: URL): URL {
  try {
    return new URL(location, from);
  } catch (error) {
    throw new CdnUnavailableError(`unusable redirect from ${redact(from)}`, { cause: error });
  }
}

/** @throws MediaExpiredError or CdnUnavailableError for anything but 200, after dropping the body. */
function assertOk(url: URL, response: Dispatcher.ResponseData): void {
  const { statusCode, headers, body } = response;
  if (statusCode === 200) return;
  discard(body);
  if (EXPIRED_STATUSES.has(statusCode)) throw new MediaExpiredError(statusCode);
  throw new CdnUnavailableError(`CDN answered HTTP ${statusCode} for ${redact(url)}`, {
    retryAfterMs: parseRetryAfter(headers['retry-after']),
  });
}

/** Drains a small unread body so its connection can be reused; undici drops a large one. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.dump().catch(() => undefined);
}

/**
 * Retry-After as a delay in ms: either delta-seconds or an HTTP date (a date in the past is 0).
 * Anything else is ignored.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function parseContentLength(value: string | string[] | undefined): number | undefined {
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Origin and path only: the query carries the oh=/oe= signatures and must not reach logs or messages. */
function redact(url: URL): string {
  return url.origin + url.pathname;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown error';
}

/**
 * Sits between undici's body and the reader: counts bytes against maxBytes and turns transfer
 * errors into CdnUnavailableError saying how far the transfer got. Per chunk it only adds a length.
 */
class BodyGuard extends Transform {
  private received = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly expected: number | undefined,
    private readonly where: string,
  ) {
    super();
  }

  /** Pipes `source` through the guard; destroying the guard (reader gone, limit hit) destroys the source. */
  pipeFrom(source: Readable, signal: AbortSignal | undefined): Readable {
    // undici already destroys the body on abort, on idle timeout and on a short or reset transfer.
    source.on('error', (error) => this.destroy(signal?.aborted ? signal.reason : this.transferError(error)));
    this.once('close', () => source.destroy());
    return source.pipe(this);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (this.received > this.maxBytes) callback(new MediaTooLargeError(this.maxBytes));
    else callback(null, chunk);
  }

  private transferError(cause: unknown): CdnUnavailableError {
    const of = this.expected === undefined ? '' : ` of ${this.expected}`;
    return new CdnUnavailableError(
      `body of ${this.where} broke off after ${this.received}${of} bytes (${errorCode(cause)})`,
      { cause },
    );
  }
}
