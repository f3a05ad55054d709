/**
 * HTTP at the socket level, for what the ApiClient hides: a request on a connection of its own
 * (no keep-alive pool), a body read at a chosen pace or not at all, a client that goes away,
 * and telling a refused connection apart from an answer.
 */
import { createHash } from 'node:crypto';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';

export interface RawRequestOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Sent as is; JSON.stringify it first. */
  body?: string;
}

/** A request in flight: the response comes later, or never (a slow server, a destroyed request). */
export interface RawExchange {
  request: ClientRequest;
  /** The status line and headers; rejects when the connection fails or the request is destroyed first. */
  response: Promise<IncomingMessage>;
}

/** Sends a request on a new connection closed after the answer (`Connection: close`, no agent). */
export function rawRequest(url: string, options: RawRequestOptions = {}): RawExchange {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  const req = request(url, { method: options.method ?? 'GET', headers, agent: false });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  // A rejection nobody awaits (the test destroyed the request on purpose) must not fail the run.
  response.catch(() => undefined);
  // Errors after the response (the server cutting the body) surface on the response's reader.
  req.on('error', () => undefined);
  req.end(options.body);
  return { request: req, response };
}

/** What a {@link BodyReader} got. */
export interface BodyResult {
  /** Bytes received. */
  received: number;
  /** SHA-256 of the bytes received, hex. */
  sha256: string;
  /** Whether the whole body arrived (Content-Length reached, or the chunked end seen). */
  complete: boolean;
  /** Why the body ended early, when it did. */
  error?: Error;
  /** performance.now() when the body ended (complete or not). */
  endedAt: number;
}

/**
 * Reads a response body at `bytesPerSecond` (Infinity: as fast as it comes; 0: not at all, so
 * the server's writes back up), changeable at any time with {@link setRate}. TCP does the rest:
 * a reader that is slow or stalled holds the server's response in flight.
 */
export class BodyReader {
  /** Bytes received so far. */
  received = 0;
  /** Resolves when the body ends, complete or cut. */
  readonly done: Promise<BodyResult>;

  private readonly hash = createHash('sha256');
  private rate: number;
  private mark = { at: performance.now(), bytes: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly response: IncomingMessage,
    bytesPerSecond = Infinity,
  ) {
    this.rate = bytesPerSecond;
    this.done = new Promise((resolve) => {
      let error: Error | undefined;
      response.once('error', (cause) => (error = cause));
      response.once('close', () => {
        clearTimeout(this.timer);
        const complete = error === undefined && response.complete;
        resolve({ received: this.received, sha256: this.hash.digest('hex'), complete, error, endedAt: performance.now() });
      });
    });
    response.on('data', (chunk: Buffer) => {
      this.hash.update(chunk);
      this.received += chunk.length;
      this.throttle();
    });
    if (this.rate === 0) response.pause();
  }

  /** Reads on at `bytesPerSecond` from now (0 stops reading, Infinity reads as fast as possible). */
  setRate(bytesPerSecond: number): void {
    this.rate = bytesPerSecond;
    this.mark = { at: performance.now(), bytes: this.received };
    clearTimeout(this.timer);
    if (bytesPerSecond === 0) this.response.pause();
    else this.response.resume();
  }

  /** Resolves once at least `bytes` have been received; rejects if the body ends first. */
  async until(bytes: number, timeoutMs = 30_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.received < bytes) {
      if (this.response.destroyed || this.response.complete) throw new Error(`the body ended at ${this.received} bytes, short of ${bytes}`);
      if (performance.now() > deadline) throw new Error(`${bytes} bytes did not arrive within ${timeoutMs} ms (${this.received} did)`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Stops reading and drops the connection, as a client that goes away. */
  abort(): void {
    clearTimeout(this.timer);
    this.response.destroy();
  }

  private throttle(): void {
    if (this.rate === Infinity) return;
    if (this.rate === 0) {
      this.response.pause();
      return;
    }
    const due = this.mark.at + ((this.received - this.mark.bytes) / this.rate) * 1000;
    const wait = due - performance.now();
    if (wait <= 1) return;
    this.response.pause();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.response.resume(), wait);
  }
}

/**
 * How a fresh connection to `url` fares: 'refused' (nothing listens), another error code, or
 * the HTTP status when something answered.
 */
export async function connectionOutcome(url: string): Promise<'refused' | string | number> {
  try {
    const response = await rawRequest(url).response;
    response.resume();
    return response.statusCode ?? 0;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ECONNREFUSED' ? 'refused' : (code ?? String(error));
  }
}

/**
 * Sends `request` (the whole HTTP/1.1 request, as text) on a plain TCP connection to `origin`
 * and resolves with every byte that came back until the server closed the connection: what is
 * on the wire, beyond what an HTTP client would read.
 */
export async function rawExchange(origin: string, request: string, timeoutMs = 30_000): Promise<Buffer> {
  const { hostname, port } = new URL(origin);
  const socket = connect({ host: hostname, port: Number(port) });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no end of the exchange within ${timeoutMs} ms`)));
  socket.write(request);
  await new Promise<void>((resolve, reject) => {
    socket.once('close', (hadError) => (hadError ? undefined : resolve()));
    socket.once('error', reject);
  });
  return Buffer.concat(chunks);
}
