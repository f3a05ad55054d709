import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CdnUnavailableError,
  HostAllowList,
  HostNotAllowedError,
  InvalidFieldError,
  MediaExpiredError,
  MediaTooLargeError,
} from '@wamedia/shared';
import { CdnClient, parseRetryAfter, type CdnClientOptions } from './cdn-client.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A local HTTP server standing in for the CDN: a handler per path, a request count per path. */
interface FakeCdn {
  origin: string;
  routes: Map<string, Handler>;
  hits: Map<string, number>;
  requests: IncomingMessage[];
  close(): Promise<void>;
}

async function startCdn(host: string): Promise<FakeCdn> {
  const routes = new Map<string, Handler>();
  const hits = new Map<string, number>();
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    requests.push(req);
    const handler = routes.get(path);
    if (handler) handler(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    routes,
    hits,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const send =
  (status: number, headers: Record<string, string> = {}, body: string | Buffer = ''): Handler =>
  (_req, res) =>
    res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers }).end(body);

const redirect = (location: string): Handler => send(302, { location });

/** Declares `declared` bytes, sends `sent`, then runs `then` on the socket (or leaves it hanging). */
const partial =
  (declared: number, sent: number, then?: (res: ServerResponse) => void): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'content-length': String(declared) });
    res.write(Buffer.alloc(sent), () => setTimeout(() => then?.(res), 20));
  };

const media = randomBytes(200_000);

let cdn: FakeCdn;
let other: FakeCdn;
const clients: CdnClient[] = [];

beforeAll(async () => {
  cdn = await startCdn('127.0.0.1');
  other = await startCdn('127.0.0.2');
});

afterAll(async () => {
  await Promise.all([cdn.close(), other.close()]);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const server of [cdn, other]) {
    server.routes.clear();
    server.hits.clear();
    server.requests.length = 0;
  }
});

function makeClient(overrides: Partial<CdnClientOptions> = {}): CdnClient {
  const client = new CdnClient({
    baseUrl: cdn.origin,
    allowList: new HostAllowList([cdn.origin]),
    connectTimeoutMs: 1_000,
    idleTimeoutMs: 300,
    maxBytes: 1_000_000,
    ...overrides,
  });
  clients.push(client);
  return client;
}

/** Settles with the rejection of `promise`, failing the test if it resolves. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a failure'),
    (error: unknown) => error,
  );
}

async function bodyFailure(body: Readable): Promise<unknown> {
  return failure(buffer(body));
}

describe('CdnClient: success', () => {
  it('streams a 200 body from the directPath with its length and a redacted url', async () => {
    cdn.routes.set('/v/media.enc', send(200, {}, media));
    const response = await makeClient().open({ directPath: '/v/media.enc?oh=secret&oe=ff' });
    expect(response).toMatchObject({ contentLength: media.length, source: 'directPath', url: `${cdn.origin}/v/media.enc` });
    expect((await buffer(response.body)).equals(media)).toBe(true);
  });

  it('streams a chunked body without a Content-Length', async () => {
    cdn.routes.set('/chunked', (_req, res) => {
      res.writeHead(200);
      res.write(media.subarray(0, 1000));
      res.end(media.subarray(1000));
    });
    const response = await makeClient().open({ url: `${cdn.origin}/chunked` });
    expect(response.contentLength).toBeUndefined();
    expect((await buffer(response.body)).equals(media)).toBe(true);
  });

  it('sends the WhatsApp Web origin and a user agent', async () => {
    cdn.routes.set('/m', send(200, {}, 'x'));
    await buffer((await makeClient().open({ directPath: '/m' })).body);
    expect(cdn.requests[0]?.headers).toMatchObject({ origin: 'https://web.whatsapp.com', 'user-agent': expect.stringContaining('wamedia') });
  });

  it('follows a redirect to an allowed path', async () => {
    cdn.routes.set('/old', redirect('/new?oh=secret'));
    cdn.routes.set('/new', send(200, {}, 'moved'));
    const response = await makeClient().open({ directPath: '/old' });
    expect(response.url).toBe(`${cdn.origin}/new`);
    expect((await buffer(response.body)).toString()).toBe('moved');
  });
});

describe('CdnClient: directPath, then url', () => {
  it('falls back to the url when the directPath is expired', async () => {
    cdn.routes.set('/dp', send(404));
    cdn.routes.set('/u', send(200, {}, 'from url'));
    const response = await makeClient().open({ directPath: '/dp', url: `${cdn.origin}/u?oe=ff` });
    expect(response.source).toBe('url');
    expect((await buffer(response.body)).toString()).toBe('from url');
    expect(Object.fromEntries(cdn.hits)).toEqual({ '/dp': 1, '/u': 1 });
  });

  it('does not touch the url when the directPath answers', async () => {
    cdn.routes.set('/dp', send(200, {}, 'ok'));
    await buffer((await makeClient().open({ directPath: '/dp', url: `${cdn.origin}/u` })).body);
    expect(Object.fromEntries(cdn.hits)).toEqual({ '/dp': 1 });
  });

  it('falls back to the url when the directPath is malformed; alone it is an invalid field', async () => {
    cdn.routes.set('/u', send(200, {}, 'ok'));
    expect((await makeClient().open({ directPath: '@evil.example/x', url: `${cdn.origin}/u` })).source).toBe('url');
    expect(await failure(makeClient().open({ directPath: '@evil.example/x' }))).toBeInstanceOf(InvalidFieldError);
    expect(await failure(makeClient().open({}))).toBeInstanceOf(InvalidFieldError);
  });

  it('throws MediaExpiredError when both are expired', async () => {
    cdn.routes.set('/dp', send(410));
    cdn.routes.set('/u', send(403));
    const error = await failure(makeClient().open({ directPath: '/dp', url: `${cdn.origin}/u` }));
    expect(error).toBeInstanceOf(MediaExpiredError);
    expect((error as MediaExpiredError).cdnStatus).toBe(403);
  });

  it.each([
    ['directPath', 503, 404],
    ['url', 404, 503],
  ])('prefers the retryable failure (from the %s) over an expiry', async (_which, dpStatus, urlStatus) => {
    cdn.routes.set('/dp', send(dpStatus));
    cdn.routes.set('/u', send(urlStatus));
    const error = await failure(makeClient().open({ directPath: '/dp', url: `${cdn.origin}/u` }));
    expect(error).toBeInstanceOf(CdnUnavailableError);
  });

  it('prefers an expiry over a url on a host that is not allowed', async () => {
    cdn.routes.set('/dp', send(404));
    const error = await failure(makeClient().open({ directPath: '/dp', url: `${other.origin}/u` }));
    expect(error).toBeInstanceOf(MediaExpiredError);
    expect(other.hits.size).toBe(0);
  });

  it('stops at a media that is too large instead of trying the url', async () => {
    cdn.routes.set('/dp', send(200, {}, 'x'.repeat(100)));
    cdn.routes.set('/u', send(200, {}, 'x'));
    const error = await failure(makeClient({ maxBytes: 10 }).open({ directPath: '/dp', url: `${cdn.origin}/u` }));
    expect(error).toBeInstanceOf(MediaTooLargeError);
    expect(cdn.hits.get('/u')).toBeUndefined();
  });
});

describe('CdnClient: statuses', () => {
  it.each([403, 404, 410])('%i is a final MediaExpiredError', async (status) => {
    cdn.routes.set('/m', send(status, {}, 'gone'));
    const error = await failure(makeClient().open({ directPath: '/m' }));
    expect(error).toBeInstanceOf(MediaExpiredError);
    expect((error as MediaExpiredError).retryable).toBe(false);
  });

  it.each([500, 502, 503, 400, 204])('%i is a retryable CdnUnavailableError', async (status) => {
    cdn.routes.set('/m', send(status));
    const error = await failure(makeClient().open({ directPath: '/m' }));
    expect(error).toBeInstanceOf(CdnUnavailableError);
    expect((error as CdnUnavailableError).retryable).toBe(true);
  });

  it('reads Retry-After seconds from a 429', async () => {
    cdn.routes.set('/m', send(429, { 'retry-after': '2' }));
    const error = await failure(makeClient().open({ directPath: '/m' }));
    expect(error).toBeInstanceOf(CdnUnavailableError);
    expect((error as CdnUnavailableError).retryAfterMs).toBe(2000);
  });

  it('keeps the signed query out of error messages', async () => {
    cdn.routes.set('/m', send(503));
    const error = await failure(makeClient().open({ url: `${cdn.origin}/m?oh=secret&oe=ff` }));
    expect((error as Error).message).toContain(`${cdn.origin}/m`);
    expect((error as Error).message).not.toContain('secret');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads seconds, HTTP dates (past ones as 0), and ignores the rest', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('CdnClient: allowed hosts and redirects', () => {
  it('refuses a url on another host without connecting to it', async () => {
    other.routes.set('/u', send(200, {}, 'x'));
    const error = await failure(makeClient().open({ url: `${other.origin}/u` }));
    expect(error).toBeInstanceOf(HostNotAllowedError);
    expect(other.hits.size).toBe(0);
  });

  it('refuses the metadata address', async () => {
    const error = await failure(makeClient().open({ url: 'http://169.254.169.254/latest/meta-data/' }));
    expect(error).toBeInstanceOf(HostNotAllowedError);
  });

  it('refuses a redirect to a host that is not allowed, before sending anything there', async () => {
    cdn.routes.set('/m', redirect(`${other.origin}/steal`));
    const error = await failure(makeClient().open({ directPath: '/m' }));
    expect(error).toBeInstanceOf(HostNotAllowedError);
    expect(other.hits.size).toBe(0);
  });

  it('gives up on a redirect loop after maxRedirects hops', async () => {
    cdn.routes.set('/loop', redirect('/loop'));
    const error = await failure(makeClient({ maxRedirects: 3 }).open({ directPath: '/loop' }));
    expect(error).toBeInstanceOf(CdnUnavailableError);
    expect(cdn.hits.get('/loop')).toBe(4);
  });
});

describe('CdnClient: body limits and broken transfers', () => {
  it('refuses a Content-Length above maxBytes before reading the body', async () => {
    cdn.routes.set('/m', send(200, {}, 'x'.repeat(101)));
    expect(await failure(makeClient({ maxBytes: 100 }).open({ directPath: '/m' }))).toBeInstanceOf(MediaTooLargeError);
  });

  it('fails the stream when a chunked body grows past maxBytes', async () => {
    cdn.routes.set('/m', (_req, res) => {
      res.writeHead(200);
      res.write(media.subarray(0, 60_000));
      res.end(media.subarray(60_000, 120_000));
    });
    const response = await makeClient({ maxBytes: 100_000 }).open({ directPath: '/m' });
    expect(await bodyFailure(response.body)).toBeInstanceOf(MediaTooLargeError);
  });

  it('fails a body that stalls beyond the idle timeout, in bounded time', async () => {
    cdn.routes.set('/m', partial(1000, 100));
    const started = Date.now();
    const response = await makeClient({ idleTimeoutMs: 300 }).open({ directPath: '/m' });
    expect(await bodyFailure(response.body)).toBeInstanceOf(CdnUnavailableError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('fails a response whose headers never come, in bounded time', async () => {
    cdn.routes.set('/m', () => undefined);
    const started = Date.now();
    expect(await failure(makeClient({ idleTimeoutMs: 300 }).open({ directPath: '/m' }))).toBeInstanceOf(CdnUnavailableError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('fails a body whose connection is reset', async () => {
    cdn.routes.set('/m', partial(1000, 100, (res) => res.socket?.destroy()));
    const response = await makeClient().open({ directPath: '/m' });
    const error = await bodyFailure(response.body);
    expect(error).toBeInstanceOf(CdnUnavailableError);
    expect((error as Error).message).toContain('of 1000 bytes');
  });

  it('fails a body that ends short of its Content-Length', async () => {
    cdn.routes.set('/m', partial(1000, 100, (res) => res.socket?.end()));
    const response = await makeClient().open({ directPath: '/m' });
    expect(await bodyFailure(response.body)).toBeInstanceOf(CdnUnavailableError);
  });

  it('fails with CdnUnavailableError when the CDN refuses connections', async () => {
    const gone = await startCdn('127.0.0.1');
    await gone.close();
    const client = makeClient({ baseUrl: gone.origin, allowList: new HostAllowList([gone.origin]) });
    const error = await failure(client.open({ directPath: '/m' }));
    expect(error).toBeInstanceOf(CdnUnavailableError);
    expect((error as Error).cause).toBeDefined();
  });
});

describe('CdnClient: abort', () => {
  it('aborts a request waiting for headers with the signal reason', async () => {
    cdn.routes.set('/m', () => undefined);
    const controller = new AbortController();
    const opening = makeClient({ idleTimeoutMs: 5_000 }).open({ directPath: '/m', url: `${cdn.origin}/u` }, controller.signal);
    setTimeout(() => controller.abort(new Error('job cancelled')), 50);
    expect(await failure(opening)).toEqual(new Error('job cancelled'));
    expect(cdn.hits.get('/u')).toBeUndefined();
  });

  it('aborts a body mid-transfer with the signal reason', async () => {
    cdn.routes.set('/m', partial(1000, 100));
    const controller = new AbortController();
    const response = await makeClient({ idleTimeoutMs: 5_000 }).open({ directPath: '/m' }, controller.signal);
    setTimeout(() => controller.abort(new Error('job cancelled')), 50);
    expect(await bodyFailure(response.body)).toEqual(new Error('job cancelled'));
  });
});
