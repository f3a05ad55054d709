/**
 * HTTP for the fuzz suite: requests a fuzzer makes up, sent either through a keep-alive undici
 * pool (most of them) or written byte for byte on a socket of their own (what no well-behaved
 * client would send: raw UTF-8 in the path, bad request lines, broken framing), and the check
 * every answer must pass: no 5xx, and each error in the contract's shape.
 */
import { readFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { connect } from 'node:net';
import { Pool } from 'undici';

/** An answer, whichever way the request went. */
export interface FuzzResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

/** A request through the pool: method, request-target and headers exactly as given. */
export interface PooledRequest {
  method: string;
  /** The request-target, already encoded (undici refuses bytes outside 0x21-0xff). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** A keep-alive connection pool to the API with at most `connections` sockets. */
export class FuzzPool {
  private readonly pool: Pool;

  constructor(origin: string, connections = 32) {
    this.pool = new Pool(origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 10_000,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
  }

  async send(request: PooledRequest): Promise<FuzzResponse> {
    const response = await this.pool.request({
      method: request.method as 'GET',
      path: request.path,
      headers: request.headers,
      body: request.body,
    });
    const body = Buffer.from(await response.body.arrayBuffer());
    return { status: response.statusCode, headers: flattenHeaders(response.headers), body };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/**
 * Writes `bytes` on a new connection and reads the answer until the server closes. Resolves
 * with the first final response, or `undefined` when the server closed without one (which the
 * caller decides about).
 *
 * The connection is half-closed only if nothing came back within `halfCloseAfterMs`: a request
 * that promised more body than it sent then ends there. Sooner, it would end every request:
 * Node's server drops the requests of a client that half-closes (no `allowHalfOpen`).
 */
export function sendRaw(host: string, port: number, bytes: Buffer, timeoutMs = 15_000, halfCloseAfterMs = 1_000): Promise<FuzzResponse | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close within ${timeoutMs} ms`));
    }, timeoutMs);
    const halfClose = setTimeout(() => socket.end(), halfCloseAfterMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // An interim 100 Continue is no answer: the server still waits for the body.
      if (/^HTTP\/1\.[01] [2-9]/m.test(Buffer.concat(chunks).toString('latin1'))) clearTimeout(halfClose);
    });
    // A reset after the answer (the server destroys what it refused) is not a failure.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(halfClose);
      const received = Buffer.concat(chunks);
      if (received.length === 0) return resolve(undefined);
      try {
        resolve(parseResponse(received));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/**
 * Parses the first final HTTP/1.x response of `bytes` (Content-Length, chunked, or until close),
 * after any 1xx; undefined when there are only 1xx responses.
 */
export function parseResponse(bytes: Buffer): FuzzResponse | undefined {
  while (/^HTTP\/1\.[01] 1\d\d /.test(bytes.subarray(0, 16).toString('latin1'))) {
    const interimEnd = bytes.indexOf('\r\n\r\n');
    if (interimEnd < 0) break;
    bytes = bytes.subarray(interimEnd + 4);
  }
  if (bytes.length === 0) return undefined;
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error(`an incomplete response head: ${JSON.stringify(bytes.toString('latin1').slice(0, 300))}`);
  const [statusLine, ...lines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine!);
  if (!match) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const rest = bytes.subarray(headEnd + 4);
  let body: Buffer;
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(rest);
  else if (headers['content-length'] !== undefined) body = rest.subarray(0, Number(headers['content-length']));
  else body = rest;
  return { status: Number(match[1]), headers, body };
}

function dechunk(bytes: Buffer): Buffer {
  const pieces: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = Number.parseInt(bytes.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    pieces.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(pieces);
}

/**
 * What is wrong with an answer, or undefined when nothing is: a 5xx, or an error (4xx) that is
 * not `{message: string[] (not empty), error: <reason phrase>, statusCode: <the status>}` as
 * JSON. HEAD answers carry no body; 1xx-3xx answers are not errors.
 */
export function contractViolation(method: string, response: FuzzResponse): string | undefined {
  const { status } = response;
  if (status >= 500) return `a ${status} answer`;
  if (status < 400 || method.toUpperCase() === 'HEAD') return undefined;
  if (!/^application\/json\b/i.test(response.headers['content-type'] ?? '')) {
    return `a ${status} answer with Content-Type ${JSON.stringify(response.headers['content-type'])}`;
  }
  let body: unknown;
  try {
    body = JSON.parse(response.body.toString('utf8'));
  } catch {
    return `a ${status} answer whose body is not JSON`;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return `a ${status} answer whose body is not an object`;
  const { message, error, statusCode, ...extra } = body as Record<string, unknown>;
  if (Object.keys(extra).length > 0) return `a ${status} answer with extra fields ${Object.keys(extra).join(', ')}`;
  if (!Array.isArray(message) || message.length === 0 || !message.every((m) => typeof m === 'string' && m.length > 0)) {
    return `a ${status} answer whose message is not a non-empty array of strings`;
  }
  if (error !== STATUS_CODES[status]) return `a ${status} answer whose error is ${JSON.stringify(error)}, not ${JSON.stringify(STATUS_CODES[status])}`;
  if (statusCode !== status) return `a ${status} answer whose statusCode is ${JSON.stringify(statusCode)}`;
  return undefined;
}

/** Runs `task` over `items`, at most `limit` at once; resolves with the results in order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** VmRSS of a process in bytes, from /proc (Linux); undefined elsewhere or once it is gone. */
export async function residentSetSize(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}
