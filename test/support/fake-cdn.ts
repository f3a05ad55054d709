/**
 * A stand-in for the WhatsApp CDN: a node:http server on 127.0.0.1 (or another loopback address)
 * serving .enc files made by the project's own encryptor (and channel media, in clear), with scripted misbehaviour per path
 * (error statuses, N failures then success, slow or dripping bodies, redirects, wrong bytes,
 * dropped connections) and a log of every request, so tests can assert how often it was asked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { encryptMedia, type ContentType } from '@wamedia/shared';

/** How the CDN answers one request. */
export type CdnResponder =
  | {
      kind: 'serve';
      /** Bytes to send; the path's own .enc when absent. */
      body?: Buffer;
      /** Wait before sending the status line and headers, in ms. */
      headerDelayMs?: number;
      /**
       * Send the status line and headers only once this settles: a test's own event (S3 stopped,
       * a client answered) rather than a delay that a loaded machine may outrun.
       */
      headersAfter?: Promise<unknown>;
      /** Stop once `bytes` of the body are sent, until `until` settles (then go on as before). */
      holdAt?: { bytes: number; until: Promise<unknown> };
      /** Wait after the headers, before the first body byte, in ms. */
      bodyDelayMs?: number;
      /** Send the body in pieces of this many bytes (whole when absent). */
      chunkSize?: number;
      /** Pause between two pieces, in ms (with chunkSize). */
      chunkIntervalMs?: number;
      /**
       * Content-Length: true (default) for the real length, false for none (chunked transfer),
       * a number to declare a different length (e.g. more than is sent).
       */
      contentLength?: boolean | number;
      /** Extra response headers. */
      headers?: Record<string, string>;
      /**
       * Reset the connection (TCP RST, as a crashed peer or a middlebox does) once this many body
       * bytes are sent; Content-Length still declares the whole body.
       */
      resetAfter?: number;
    }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'redirect'; location: string; status?: 301 | 302 | 303 | 307 | 308 }
  /** Destroys the connection without answering (a network error for the client). */
  | { kind: 'reset' }
  /** Never answers; the connection stays open until the client gives up or the CDN closes. */
  | { kind: 'hang' };

/** One request the CDN received. */
export interface CdnRequest {
  method: string;
  /** The path without its query: what behaviours and counts are keyed by. */
  pathname: string;
  /** The path with its query, as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The client's address: which worker asked, when workers have addresses of their own (network namespaces). */
  remoteAddress: string | undefined;
  at: number;
  /** Body bytes written to the response so far. */
  bytesSent: number;
  /** When the response ended or its connection closed (Date.now()); undefined while it is open. */
  closedAt?: number;
}

/** A media published on the fake CDN, with every field a WhatsApp message carries about it. */
export interface PublishedMedia {
  contentType: ContentType;
  plaintext: Buffer;
  /** SHA-256 of the plaintext, hex: the media's content address and ETag. */
  sha256: string;
  enc: Buffer;
  /** The message's directPath (path and query), fetched from MEDIA_CDN_BASE_URL. */
  directPath: string;
  /** The pathname part of directPath. */
  directPathname: string;
  /** The message's url; a different path than directPath, so the two can behave differently. */
  url: string;
  /** The pathname part of url. */
  urlPathname: string;
  /** base64, as in a message. */
  mediaKey: string;
  /** base64. */
  fileSha256: string;
  /** base64. */
  fileEncSha256: string;
  fileLength: number;
}

/**
 * A channel (newsletter) media published on the fake CDN: not encrypted, so its message has no
 * mediaKey, and the CDN serves the file itself.
 */
export type PublishedPlainMedia = Omit<PublishedMedia, 'enc' | 'mediaKey' | 'fileEncSha256'>;

export interface PublishOptions {
  /** The mediaKey to encrypt with (32 bytes); a random one by default. */
  mediaKey?: Buffer;
}

interface Route {
  /** What the path serves when a `serve` responder names no body. */
  enc: Buffer | undefined;
  /** One-shot responders, used in order before `fallback`. */
  queue: CdnResponder[];
  fallback: CdnResponder;
}

const SERVE: CdnResponder = { kind: 'serve' };
const NOT_FOUND: CdnResponder = { kind: 'status', status: 404 };

export class FakeCdn {
  /** Every request received, in arrival order. */
  readonly requests: CdnRequest[] = [];
  /** TCP connections accepted since start (a request-less connection counts too). */
  connections = 0;

  private readonly routes = new Map<string, Route>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private sequence = 0;

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  /** Starts a fake CDN on `host` (default 127.0.0.1), on a free port. */
  static async start(host = '127.0.0.1'): Promise<FakeCdn> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, resolve);
    });
    const cdn = new FakeCdn(server, host, (server.address() as AddressInfo).port);
    server.on('connection', (socket) => cdn.onConnection(socket));
    server.on('request', (req, res) => {
      const url = req.url ?? '/';
      const pathname = new URL(url, 'http://cdn').pathname;
      const logged: CdnRequest = {
        method: req.method ?? 'GET',
        pathname,
        url,
        headers: req.headers,
        remoteAddress: req.socket.remoteAddress,
        at: Date.now(),
        bytesSent: 0,
      };
      cdn.requests.push(logged);
      res.once('close', () => (logged.closedAt = Date.now()));
      cdn.respond(pathname, res, logged);
    });
    return cdn;
  }

  /** `http://host:port`: the MEDIA_CDN_BASE_URL and the MEDIA_ALLOWED_HOSTS entry for this CDN. */
  get origin(): string {
    return `http://${this.host}:${this.port}`;
  }

  /**
   * Encrypts `plaintext` for `contentType` and serves the .enc at two paths: the directPath's
   * and the url's. Both serve it until told otherwise.
   */
  publish(plaintext: Buffer, contentType: ContentType, options: PublishOptions = {}): PublishedMedia {
    const encrypted = encryptMedia(plaintext, { contentType, mediaKey: options.mediaKey });
    return this.publishEncrypted({ plaintext, contentType, ...encrypted });
  }

  /**
   * Serves a .enc made elsewhere (a sample file of WhatsApp's, another library's encryptor), as
   * publish() does its own: what wamedia must read is then not only what its own encryptor writes.
   */
  publishEncrypted(encrypted: {
    plaintext: Buffer;
    contentType: ContentType;
    enc: Buffer;
    mediaKey: Buffer;
    fileSha256: Buffer;
    fileEncSha256: Buffer;
    fileLength: number;
  }): PublishedMedia {
    const { plaintext, contentType } = encrypted;
    // Shaped like the real thing: /v/t62.7118-24/<id>.enc?ccb=..&oh=<signature>&oe=<hex expiry>.
    const paths = this.serveAtNewPaths('/v/t62.7118-24/', '.enc', encrypted.enc);
    return {
      contentType,
      plaintext,
      sha256: createHash('sha256').update(plaintext).digest('hex'),
      ...paths,
      enc: encrypted.enc,
      mediaKey: encrypted.mediaKey.toString('base64'),
      fileSha256: encrypted.fileSha256.toString('base64'),
      fileEncSha256: encrypted.fileEncSha256.toString('base64'),
      fileLength: encrypted.fileLength,
    };
  }

  /** Serves `plaintext` itself, as a channel's media, at a directPath's and a url's path. */
  publishPlain(plaintext: Buffer, contentType: ContentType): PublishedPlainMedia {
    const paths = this.serveAtNewPaths('/m1/v/t24.15575-24/', '', plaintext);
    const fileSha256 = createHash('sha256').update(plaintext).digest();
    return { contentType, plaintext, sha256: fileSha256.toString('hex'), ...paths, fileSha256: fileSha256.toString('base64'), fileLength: plaintext.length };
  }

  /** Serves `bytes` at two new paths under `folder`: the directPath's and the url's. */
  private serveAtNewPaths(folder: string, extension: string, bytes: Buffer) {
    const id = `${Date.now().toString(36)}${(this.sequence++).toString(36)}${randomBytes(6).toString('hex')}`;
    const query = `ccb=11-4&oh=01_${randomBytes(12).toString('base64url')}&oe=${(Math.floor(Date.now() / 1000) + 86_400).toString(16).toUpperCase()}`;
    const directPathname = `${folder}${id}${extension}`;
    const urlPathname = `/o1${folder}${id}${extension}`;
    this.serveBytes(directPathname, bytes);
    this.serveBytes(urlPathname, bytes);
    return {
      directPath: `${directPathname}?${query}`,
      directPathname,
      url: `${this.origin}${urlPathname}?${query}&mms3=true`,
      urlPathname,
    };
  }

  /** Serves `bytes` at `pathname` (200, whole body, with Content-Length). */
  serveBytes(pathname: string, bytes: Buffer): void {
    this.routes.set(pathname, { enc: bytes, queue: [], fallback: SERVE });
  }

  /** Makes `pathname` answer every request with `responder` from now on (one-shot ones still go first). */
  setBehaviour(pathname: string, responder: CdnResponder): void {
    this.route(pathname).fallback = responder;
  }

  /** Queues one-shot responders for `pathname`: the next requests get them, in order. */
  enqueue(pathname: string, ...responders: CdnResponder[]): void {
    this.route(pathname).queue.push(...responders);
  }

  /** The next `times` requests to `pathname` get `status` (default 500), later ones the usual answer. */
  failTimes(pathname: string, times: number, status = 500): void {
    for (let i = 0; i < times; i++) this.enqueue(pathname, { kind: 'status', status });
  }

  /** Requests received for `pathname` (every path when absent). */
  count(pathname?: string): number {
    return pathname === undefined ? this.requests.length : this.requests.filter((r) => r.pathname === pathname).length;
  }

  /** Requests received for any of the media's two paths. */
  countMedia(media: Pick<PublishedMedia, 'directPathname' | 'urlPathname'>): number {
    return this.count(media.directPathname) + this.count(media.urlPathname);
  }

  /** The requests whose response is still going on (neither ended nor cut). */
  openRequests(): CdnRequest[] {
    return this.requests.filter((request) => request.closedAt === undefined);
  }

  /**
   * Resets every open connection at once (TCP RST), as a crashed CDN front end or a middlebox
   * does: the responses in progress end without their remaining bytes. Returns the requests
   * they were serving.
   */
  resetConnections(): CdnRequest[] {
    const cut = this.openRequests();
    for (const socket of this.sockets) socket.resetAndDestroy();
    return cut;
  }

  /** Forgets the request log and the connection count. */
  resetLog(): void {
    this.requests.length = 0;
    this.connections = 0;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private route(pathname: string): Route {
    let route = this.routes.get(pathname);
    if (!route) {
      route = { enc: undefined, queue: [], fallback: NOT_FOUND };
      this.routes.set(pathname, route);
    }
    return route;
  }

  private onConnection(socket: Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private respond(pathname: string, res: ServerResponse, logged: CdnRequest): void {
    const route = this.routes.get(pathname);
    const responder = route ? (route.queue.shift() ?? route.fallback) : NOT_FOUND;
    switch (responder.kind) {
      case 'status': {
        const body = responder.body ?? '';
        res.writeHead(responder.status, { 'content-length': String(Buffer.byteLength(body)), ...responder.headers });
        res.end(body);
        return;
      }
      case 'redirect':
        res.writeHead(responder.status ?? 302, { location: responder.location, 'content-length': '0' }).end();
        return;
      case 'reset':
        res.socket?.destroy();
        return;
      case 'hang':
        return;
      case 'serve':
        void this.serve(responder, route?.enc ?? Buffer.alloc(0), res, logged);
    }
  }

  private async serve(responder: Extract<CdnResponder, { kind: 'serve' }>, enc: Buffer, res: ServerResponse, logged: CdnRequest) {
    const body = responder.body ?? enc;
    const declared = responder.contentLength ?? true;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', ...responder.headers };
    if (declared !== false) headers['content-length'] = String(declared === true ? body.length : declared);
    await this.sleep(responder.headerDelayMs);
    await responder.headersAfter;
    if (res.destroyed) return;
    res.writeHead(200, headers);
    // Send the headers now, so a body delay is a silence after them.
    res.flushHeaders();
    await this.sleep(responder.bodyDelayMs);
    const sent = responder.resetAfter === undefined ? body : body.subarray(0, responder.resetAfter);
    const size = responder.chunkSize ?? Math.max(sent.length, 1);
    for (let offset = 0; offset < sent.length; offset += size) {
      if (res.destroyed) return;
      if (offset > 0) await this.sleep(responder.chunkIntervalMs);
      if (responder.holdAt && offset >= responder.holdAt.bytes) await responder.holdAt.until;
      if (res.destroyed) return;
      const piece = sent.subarray(offset, offset + size);
      logged.bytesSent += piece.length;
      if (!res.write(piece)) await drainOrClose(res);
    }
    if (res.destroyed) return;
    if (responder.resetAfter !== undefined) {
      // Give the bytes time to leave: an RST discards whatever is still in the send buffer.
      await this.sleep(50);
      res.socket?.resetAndDestroy();
      return;
    }
    // A declared length the body falls short of: leave the response unfinished, then cut it.
    if (typeof declared === 'number' && declared !== body.length) res.socket?.destroy();
    else res.end();
  }

  private sleep(ms: number | undefined): Promise<void> {
    if (!ms) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }
}

/** Resolves when `res` can take more bytes, or has closed. */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** A copy of `bytes` with one byte flipped at `index` (default: the middle). */
export function corrupt(bytes: Buffer, index = Math.floor(bytes.length / 2)): Buffer {
  const copy = Buffer.from(bytes);
  copy[index] = copy[index]! ^ 0xff;
  return copy;
}
