/**
 * HTTP calls to a stack's API, answered with the whole body in memory, plus the request body
 * of a published media.
 */
import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';
import type { ContentType } from '@wamedia/shared';
import type { PublishedMedia } from './fake-cdn.js';
import type { Stack } from './stack.js';

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** One response header (the first, if repeated). */
  header(name: string): string | undefined;
  /** The body parsed as JSON. */
  json<T = any>(): T;
  /** SHA-256 of the body, hex. */
  sha256(): string;
}

export interface CallOptions {
  /** The bearer token; the stack's token for the route's instance by default; null for no header. */
  token?: string | null;
  /** Raw Authorization header; wins over `token`. */
  authorization?: string;
  headers?: Record<string, string>;
}

export interface DownloadOptions extends CallOptions {
  /** The `timeout` query value; absent leaves the API's default. */
  timeout?: number | string;
}

/** The JSON body of a directly-download request. */
export interface DownloadBody {
  contentType: ContentType | string;
  content: Record<string, unknown>;
}

// Many sockets at once: the concurrency tests open hundreds of requests together.
const agent = new Agent({ connections: null, keepAliveTimeout: 1_000 });

export class ApiClient {
  constructor(private readonly stack: Stack) {}

  /** POST .../media/directly-download; `body` is sent as JSON, or as is when a string. */
  download(instanceId: string, body: DownloadBody | unknown, options: DownloadOptions = {}): Promise<ApiResponse> {
    const query = options.timeout === undefined ? '' : `?timeout=${encodeURIComponent(String(options.timeout))}`;
    return this.call('POST', `/api/v2/instance/${encodeURIComponent(instanceId)}/media/directly-download${query}`, {
      ...options,
      instanceId,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  /** GET a path of the API (e.g. a statusUrl or contentUrl) as `instanceId`. */
  get(path: string, instanceId: string, options: CallOptions = {}): Promise<ApiResponse> {
    return this.call('GET', path, { ...options, instanceId });
  }

  /** Any request; `instanceId` picks the default token. */
  async call(
    method: 'GET' | 'POST',
    path: string,
    options: CallOptions & { instanceId?: string; body?: string },
  ): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-type'] ??= 'application/json';
    const token = options.token === undefined && options.instanceId ? this.stack.token(options.instanceId) : options.token;
    if (options.authorization !== undefined) headers.authorization = options.authorization;
    else if (token) headers.authorization = `Bearer ${token}`;
    const response = await request(`${this.stack.baseUrl}${path}`, {
      method,
      headers,
      body: options.body,
      dispatcher: agent,
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    return toApiResponse(response.statusCode, response.headers, body);
  }
}

function toApiResponse(status: number, headers: ApiResponse['headers'], body: Buffer): ApiResponse {
  return {
    status,
    headers,
    body,
    header(name) {
      const value = headers[name.toLowerCase()];
      return Array.isArray(value) ? value[0] : value;
    },
    json() {
      try {
        return JSON.parse(body.toString('utf8'));
      } catch {
        throw new Error(`expected a JSON body, got HTTP ${status}: ${body.toString('utf8').slice(0, 300)}`);
      }
    },
    sha256() {
      return createHash('sha256').update(body).digest('hex');
    },
  };
}

/** Which of a media's fields a request carries, and overrides of any content field. */
export interface BodyOptions {
  /** Fields of `content` to leave out, e.g. ['url'] or ['fileLength']. */
  omit?: string[];
  /** content fields to add or replace (undefined removes). */
  content?: Record<string, unknown>;
  mimetype?: string;
  contentType?: string;
}

/** What a message carries about a media: all a request body needs. */
export type MessageFields = Pick<
  PublishedMedia,
  'contentType' | 'url' | 'directPath' | 'mediaKey' | 'fileSha256' | 'fileEncSha256' | 'fileLength'
>;

/** The request body a client would send for `media`: every field a message carries. */
export function downloadBody(media: MessageFields, options: BodyOptions = {}): DownloadBody {
  const content: Record<string, unknown> = {
    url: media.url,
    directPath: media.directPath,
    mediaKey: media.mediaKey,
    fileSha256: media.fileSha256,
    fileEncSha256: media.fileEncSha256,
    fileLength: media.fileLength,
  };
  if (options.mimetype !== undefined) content.mimetype = options.mimetype;
  for (const field of options.omit ?? []) delete content[field];
  for (const [field, value] of Object.entries(options.content ?? {})) {
    if (value === undefined) delete content[field];
    else content[field] = value;
  }
  return { contentType: options.contentType ?? media.contentType, content };
}

/**
 * Resolves when `check` returns a value other than undefined; rejects after `timeoutMs`. The
 * default deadline is generous: it only ends a wait that would never succeed, and a loaded
 * machine may take many times longer than a quiet one.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 50, what = 'the condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The error body of the HTTP contract. */
export interface ErrorBody {
  message: string[];
  error: string;
  statusCode: number;
}
