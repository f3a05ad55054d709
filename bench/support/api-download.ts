/**
 * One directly-download request to a wamedia API, its body streamed and counted (and hashed
 * when asked) rather than held: the answers of the big-media figures are hundreds of MiB.
 */
import { createHash } from 'node:crypto';
import { request, type Dispatcher } from 'undici';

export const INSTANCE = 'bench';

export interface DownloadAnswer {
  status: number;
  contentLength: number | undefined;
  etag: string | undefined;
  /** Body bytes received. */
  bytes: number;
  /** SHA-256 of the body in hex, when asked for. */
  sha256?: string;
  /** The first bytes of a non-200 body, for messages. */
  errorText?: string;
}

export interface DownloadRequest {
  baseUrl: string;
  token: string;
  /** The JSON body. */
  body: string;
  /** Hash the body (costs CPU on the client; the big-media figures only count). */
  hash?: boolean;
  dispatcher?: Dispatcher;
}

/** POST /api/v2/instance/bench/media/directly-download?timeout=600000. */
export async function downloadThroughApi({ baseUrl, token, body, hash, dispatcher }: DownloadRequest): Promise<DownloadAnswer> {
  const response = await request(`${baseUrl}/api/v2/instance/${INSTANCE}/media/directly-download?timeout=600000`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
    dispatcher,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const hasher = hash ? createHash('sha256') : undefined;
  let bytes = 0;
  const kept: Buffer[] = [];
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    hasher?.update(chunk);
    if (response.statusCode !== 200 && bytes < 4096) kept.push(chunk);
  }
  const length = response.headers['content-length'];
  const etag = response.headers.etag;
  return {
    status: response.statusCode,
    contentLength: length === undefined ? undefined : Number(length),
    etag: Array.isArray(etag) ? etag[0] : etag,
    bytes,
    sha256: hasher?.digest('hex'),
    errorText: kept.length > 0 ? Buffer.concat(kept).toString('utf8').slice(0, 300) : undefined,
  };
}

/** Throws unless `answer` is a 200 of `length` bytes with ETag "<sha256>". */
export function checkAnswer(answer: DownloadAnswer, sha256: string, length: number): void {
  const problems: string[] = [];
  if (answer.status !== 200) problems.push(`HTTP ${answer.status} ${answer.errorText ?? ''}`);
  if (answer.contentLength !== length) problems.push(`Content-Length ${answer.contentLength}, expected ${length}`);
  if (answer.bytes !== length) problems.push(`${answer.bytes} body bytes, expected ${length}`);
  if (answer.etag !== `"${sha256}"`) problems.push(`ETag ${answer.etag}, expected "${sha256}"`);
  if (answer.sha256 !== undefined && answer.sha256 !== sha256) problems.push('body SHA-256 differs');
  if (problems.length > 0) throw new Error(`bad answer: ${problems.join('; ')}`);
}
