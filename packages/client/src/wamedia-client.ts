import { setTimeout as delay } from 'node:timers/promises';
import type { z } from 'zod';
import {
  batchStatusSchema,
  jobAcceptedSchema,
  jobStatusSchema,
  reuploadAcceptedSchema,
  mediaBase64Schema,
  mediaLinkSchema,
  type BatchItem,
  type BatchItemRequestInput,
  type BatchStatus,
  type DownloadRequestInput,
  type JobStatus,
  type MessageBatchItemRequestInput,
  type MessageDownloadRequestInput,
  type ReuploadAccepted,
  type ReuploadAnswerInput,
  type MediaBase64,
  type MediaLink,
} from '@wamedia/shared';
import { pollBatchResults, type BatchResultsOptions } from './batch-results.js';
import { toDownloadedMedia, type DownloadedMedia } from './downloaded-media.js';
import { toJsonBody } from './json-body.js';
import { batchItemBody, downloadBody } from './request-bodies.js';
import { WamediaApiError } from './wamedia-api-error.js';

export interface WamediaClientOptions {
  /** Where the API answers, e.g. "http://localhost:8083"; a path prefix (behind a proxy) is kept. */
  baseUrl: string;
  /** The bearer JWT; its `instanceId` claim must be `instanceId`. */
  token: string;
  /** The instance whose routes are called. */
  instanceId: string;
  /** The fetch to call; globalThis.fetch by default. */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  /** Cancels the request (and, for media, the body and any polling). */
  signal?: AbortSignal;
}

export interface DownloadOptions extends RequestOptions {
  /**
   * How long the API holds the request before answering 202 (the `timeout` query), in ms; the
   * API's default (600000, or its MAX_WAIT_MS) when absent. A 202 is followed by polling
   * either way: bound the whole call with `signal` (e.g. AbortSignal.timeout()).
   */
  timeoutMs?: number;
  /** Pause between two polls after a 202, in ms. Default 1000. */
  pollIntervalMs?: number;
}

/** The file itself, streamed (the default). */
export interface AsFile {
  response?: 'file';
}

/** A link to the file that needs no token and expires (a presigned S3 URL, or one the API signs). */
export interface AsLink {
  response: 'url';
  /** How long the link holds, in seconds; the API's SIGNED_URL_TTL_SECONDS (also the most) when absent. */
  ttlSeconds?: number;
}

/** The file as base64 inside JSON, for media up to the API's BASE64_MAX_BYTES (else a 413). */
export interface AsBase64 {
  response: 'base64';
}

/** How a media is answered: the `response` query of the API. */
export type ResponseOptions = AsFile | AsLink | AsBase64;

export interface SubmitBatchOptions extends RequestOptions {
  /** POSTed a signed webhook per finished item and once when the batch is done. */
  callbackUrl?: string;
  /** With `callbackUrl`: each completed item's webhook carries its link (`item.link`). */
  links?: boolean;
}

export interface BatchPageOptions extends RequestOptions {
  /** Position of the first item of the page. Default 0. */
  offset?: number;
  /** Items in the page, 1 to 1000. The API's default (100) when absent. */
  limit?: number;
  /** Each completed item with its link (`item.link`), valid `ttlSeconds`. */
  links?: boolean;
  /** With `links`: how long the links hold, in seconds; the API's SIGNED_URL_TTL_SECONDS when absent. */
  ttlSeconds?: number;
}

export interface BatchItemContentOptions extends RequestOptions {
  /** Pause between two polls while the item is pending (202), in ms. Default 1000. */
  pollIntervalMs?: number;
}

const DEFAULT_POLL_INTERVAL_MS = 1000;
const PENDING_STATES: ReadonlySet<JobStatus['status']> = new Set([
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'awaiting_reupload',
]);

/**
 * A typed client of the wamedia HTTP API (docs/http-contract.md), for one instance.
 * Errors answered by the API are thrown as WamediaApiError; network failures as fetch's own.
 */
export class WamediaClient {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: WamediaClientOptions) {
    this.base = `${options.baseUrl.replace(/\/+$/, '')}/api/v2/instance/${encodeURIComponent(options.instanceId)}/media`;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /**
   * Downloads one media: the bytes when the API has them within `timeoutMs`, else follows the
   * 202 (polls the job's status, then fetches its content). `request` is a media reference
   * (`{contentType, content}`), or a WhatsApp message holding one (`{message}`: a Baileys
   * WebMessageInfo, a bare Message or an Evolution API webhook). Buffers go as base64.
   * With `response: 'url'` the answer is a link to the verified file instead, with
   * `response: 'base64'` the file as base64 inside JSON.
   * @throws WamediaApiError with the API's status: 400 invalid, 404 expired, 422 integrity, 413 too large for base64, ...
   */
  download(request: DownloadRequestInput | MessageDownloadRequestInput, options: DownloadOptions & AsLink): Promise<MediaLink>;
  download(request: DownloadRequestInput | MessageDownloadRequestInput, options: DownloadOptions & AsBase64): Promise<MediaBase64>;
  download(request: DownloadRequestInput | MessageDownloadRequestInput, options?: DownloadOptions & AsFile): Promise<DownloadedMedia>;
  async download(request: DownloadRequestInput | MessageDownloadRequestInput, options: DownloadOptions & ResponseOptions = {}): Promise<MediaContent> {
    const query = responseQuery(options);
    if (options.timeoutMs !== undefined) query.set('timeout', String(options.timeoutMs));
    const response = await this.call('POST', `/directly-download${search(query)}`, options.signal, downloadBody(request));
    if (response.status !== 202) return this.content(response, options);
    const accepted = await readJson(response, jobAcceptedSchema);
    const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    for (;;) {
      await delay(pollIntervalMs, undefined, { signal: options.signal });
      const status = await this.jobStatus(accepted.jobId, options);
      if (PENDING_STATES.has(status.status)) continue;
      // Completed, failed or gone: the content route answers the bytes or the job's error.
      const path = `/jobs/${encodeURIComponent(accepted.jobId)}/content${search(responseQuery(options))}`;
      const content = await this.call('GET', path, options.signal);
      if (content.status === 202) await discard(content);
      else return this.content(content, options);
    }
  }

  /** GET .../jobs/:jobId: a job's state, and its result or error once it ended. */
  async jobStatus(jobId: string, options: RequestOptions = {}): Promise<JobStatus> {
    return readJson(await this.call('GET', `/jobs/${encodeURIComponent(jobId)}`, options.signal), jobStatusSchema);
  }

  /**
   * POST .../jobs/:jobId/reupload: the phone's answer to a job's re-upload request, the new
   * `directPath` or the encrypted `notification` of Baileys' `messages.media-update` event.
   * @throws WamediaApiError 409 when the job is not awaiting a re-upload, 422 when the notification does not decrypt.
   */
  async answerReupload(jobId: string, answer: ReuploadAnswerInput, options: RequestOptions = {}): Promise<ReuploadAccepted> {
    return readJson(await this.call('POST', `/jobs/${encodeURIComponent(jobId)}/reupload`, options.signal, answer), reuploadAcceptedSchema);
  }

  /**
   * POST .../media/batch: hands many media references over at once, each `{id, contentType,
   * content}` or a WhatsApp message `{id?, message}` (its id defaults to the message's key.id).
   * Each item is validated on its own: the answer lists every item, the invalid ones with their error.
   * @throws WamediaApiError 400 when the envelope is wrong (no items, too many, ...).
   */
  async submitBatch(items: (BatchItemRequestInput | MessageBatchItemRequestInput)[], options: SubmitBatchOptions = {}): Promise<BatchStatus> {
    const body = { items: items.map(batchItemBody), callbackUrl: options.callbackUrl, links: options.links };
    return readJson(await this.call('POST', '/batch', options.signal, body), batchStatusSchema);
  }

  /** GET .../media/batch/:batchId: the counts and one page of items (`nextOffset` when more follow). */
  async batchStatus(batchId: string, options: BatchPageOptions = {}): Promise<BatchStatus> {
    const query = new URLSearchParams();
    if (options.offset !== undefined) query.set('offset', String(options.offset));
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.links) query.set('links', '1');
    if (options.ttlSeconds !== undefined) query.set('ttl', String(options.ttlSeconds));
    return readJson(await this.call('GET', `/batch/${encodeURIComponent(batchId)}${search(query)}`, options.signal), batchStatusSchema);
  }

  /**
   * Yields each item of a batch once, as it becomes completed, failed or invalid, polling every
   * page of the batch until none is pending. See BatchResultsOptions.
   */
  batchResults(batchId: string, options: BatchResultsOptions = {}): AsyncGenerator<BatchItem, void, undefined> {
    const { links, ttlSeconds } = options;
    return pollBatchResults((page) => this.batchStatus(batchId, { ...page, links, ttlSeconds }), options);
  }

  /**
   * The file of a batch item (or its link, or base64, as `response` asks); waits (polling) while it is pending.
   * @throws WamediaApiError with the item's error: 404 expired, 422 integrity, 400 invalid, ...
   */
  batchItemContent(batchId: string, itemId: string, options: BatchItemContentOptions & AsLink): Promise<MediaLink>;
  batchItemContent(batchId: string, itemId: string, options: BatchItemContentOptions & AsBase64): Promise<MediaBase64>;
  batchItemContent(batchId: string, itemId: string, options?: BatchItemContentOptions & AsFile): Promise<DownloadedMedia>;
  async batchItemContent(
    batchId: string,
    itemId: string,
    options: BatchItemContentOptions & ResponseOptions = {},
  ): Promise<MediaContent> {
    const path = `/batch/${encodeURIComponent(batchId)}/items/${encodeURIComponent(itemId)}/content${search(responseQuery(options))}`;
    for (;;) {
      const response = await this.call('GET', path, options.signal);
      if (response.status !== 202) return this.content(response, options);
      await discard(response);
      await delay(options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS, undefined, { signal: options.signal });
    }
  }

  /** A media answer as `options.response` asked for it. */
  private content(response: Response, options: ResponseOptions): Promise<MediaContent> {
    if (options.response === 'url') return readJson(response, mediaLinkSchema);
    if (options.response === 'base64') return readJson(response, mediaBase64Schema);
    return this.media(response);
  }

  private async media(response: Response): Promise<DownloadedMedia> {
    if (response.status !== 200) {
      if (response.ok) await discard(response);
      throw response.ok
        ? WamediaApiError.unexpected(response, `expected the media (200), got ${response.status}`)
        : await WamediaApiError.fromResponse(response);
    }
    return toDownloadedMedia(response);
  }

  private call(method: 'GET' | 'POST', path: string, signal: AbortSignal | undefined, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return this.fetch(`${this.base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : toJsonBody(body),
      signal,
    });
  }
}

/** What a media route answers, by response mode. */
type MediaContent = DownloadedMedia | MediaLink | MediaBase64;

/** The `response` (and `ttl`) query of a response mode; empty for the file. */
function responseQuery(options: ResponseOptions): URLSearchParams {
  const query = new URLSearchParams();
  if (options.response && options.response !== 'file') query.set('response', options.response);
  if (options.response === 'url' && options.ttlSeconds !== undefined) query.set('ttl', String(options.ttlSeconds));
  return query;
}

/** `?<query>`, or '' when it is empty. */
function search(query: URLSearchParams): string {
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** A 2xx JSON answer checked against `schema`; anything else thrown as WamediaApiError. */
async function readJson<S extends z.ZodType>(response: Response, schema: S): Promise<z.output<S>> {
  if (!response.ok) throw await WamediaApiError.fromResponse(response);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw WamediaApiError.unexpected(response, `expected JSON, got: ${text.slice(0, 200)}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
    throw WamediaApiError.unexpected(response, `the answer does not match the contract: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** Lets go of an answer whose body is not wanted, so its connection can be reused. */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}
