import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo, type LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HostAllowList } from '@wamedia/server';
import { CdnUnavailableError, HostNotAllowedError, InvalidFieldError, MediaExpiredError, MediaTooLargeError } from '@wamedia/shared';
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
    // Far below never; loose enough for a loaded machine.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('fails a body that keeps trickling past the total timeout, though never idle for long', async () => {
    // A byte every 50 ms: never silent for the idle timeout (300 ms), never done.
    cdn.routes.set('/m', (_req, res) => {
      res.writeHead(200, { 'content-length': '100000' });
      const timer = setInterval(() => res.write(Buffer.alloc(1)), 50);
      res.once('close', () => clearInterval(timer));
    });
    const response = await makeClient({ totalTimeoutMs: 600 }).open({ directPath: '/m' });
    const error = await bodyFailure(response.body);
    expect(error).toBeInstanceOf(CdnUnavailableError);
    expect((error as Error).message).toMatch(/longer than 600 ms \(CDN_TOTAL_TIMEOUT_MS\)/);
  });

  it('counts the total timeout across redirects and the fallback to the url, then gives up', async () => {
    cdn.routes.set('/m', (_req, res) => setTimeout(() => res.writeHead(503, { 'content-length': '0' }).end(), 400));
    cdn.routes.set('/u', (_req, res) => setTimeout(() => res.writeHead(503, { 'content-length': '0' }).end(), 400));
    const error = await failure(makeClient({ totalTimeoutMs: 600, idleTimeoutMs: 5_000 }).open({ directPath: '/m', url: `${cdn.origin}/u` }));
    expect(error).toBeInstanceOf(CdnUnavailableError);
    expect((error as Error).message).toMatch(/CDN_TOTAL_TIMEOUT_MS/);
  });

  it('fails a response whose headers never come, in bounded time', async () => {
    cdn.routes.set('/m', () => undefined);
    const started = Date.now();
    expect(await failure(makeClient({ idleTimeoutMs: 300 }).open({ directPath: '/m' }))).toBeInstanceOf(CdnUnavailableError);
    // Far below never; loose enough for a loaded machine.
    expect(Date.now() - started).toBeLessThan(10_000);
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

describe('CdnClient: the addresses a host resolves to', () => {
  /**
   * A resolver standing in for DNS: answers each name of `table` with its addresses (all of them
   * when asked for all, as Node's connect does), other names with ENOTFOUND; records the names asked.
   */
  function resolver(table: Record<string, string[]>): { lookup: LookupFunction; asked: string[] } {
    const asked: string[] = [];
    const lookup: LookupFunction = (hostname, options, callback) => {
      asked.push(hostname);
      const addresses = (table[hostname] ?? []).map((address) => ({ address, family: isIP(address) }));
      process.nextTick(() => {
        if (addresses.length === 0) {
          const error: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
          callback(error, '', 0);
        } else if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      });
    };
    return { lookup, asked };
  }

  const PRIVATE_ADDRESSES = [
    '127.0.0.1',
    '127.8.9.10',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.254',
    '192.168.1.1',
    '169.254.169.254',
    '::1',
    'fc00::1',
    'fd12:3456::1',
    // IPv4-mapped IPv6 forms of the IPv4 ranges, dotted and hex.
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:a9fe:a9fe',
    '::ffff:192.168.1.1',
  ];

  it.each(PRIVATE_ADDRESSES)('refuses an allowed name that resolves to %s, before connecting', async (address) => {
    const dns = resolver({ 'media.test': [address] });
    const client = makeClient({ baseUrl: 'https://media.test', allowList: new HostAllowList(['media.test']), lookup: dns.lookup });
    for (const ref of [{ url: 'https://media.test/m?oh=secret' }, { directPath: '/m' }]) {
      const error = await failure(client.open(ref));
      // A connection attempt would have failed with CdnUnavailableError (nothing listens on :443 there).
      expect(error).toBeInstanceOf(HostNotAllowedError);
      expect((error as Error).message).toMatch(/https:\/\/media\.test resolves to a non-public address/);
      // The client is told nothing about the internal address.
      expect((error as Error).message).not.toContain(address);
    }
    expect(dns.asked).toEqual(['media.test', 'media.test']);
  });

  it('refuses a name with several addresses when any of them is private', async () => {
    const dns = resolver({ 'media.test': ['203.0.113.7', '10.1.2.3'] });
    const client = makeClient({ allowList: new HostAllowList(['media.test']), lookup: dns.lookup });
    expect(await failure(client.open({ url: 'https://media.test/m' }))).toBeInstanceOf(HostNotAllowedError);
  });

  it('lets a name that resolves to a public address through to the connection', async () => {
    // 203.0.113.0/24 (TEST-NET-3) is never routed: the connection is tried and fails, it is not refused.
    const dns = resolver({ 'media.test': ['203.0.113.7'] });
    const client = makeClient({ allowList: new HostAllowList(['media.test']), lookup: dns.lookup, connectTimeoutMs: 300 });
    expect(await failure(client.open({ url: 'https://media.test/m' }))).toBeInstanceOf(CdnUnavailableError);
    expect(dns.asked).toEqual(['media.test']);
  });

  it.each([
    ['a name entry naming a loopback IP', '127.0.0.1', 'https://127.0.0.1/m'],
    ['a name entry naming the metadata IP', '169.254.169.254', 'https://169.254.169.254/latest/meta-data/'],
    ['a name entry naming an IPv4-mapped loopback', '[::ffff:7f00:1]', 'https://[::ffff:127.0.0.1]/m'],
    ['a name entry naming the IPv6 loopback', '[::1]', 'https://[::1]/m'],
  ])('refuses %s: the IP literal is checked too, without any lookup', async (_, entry, url) => {
    const dns = resolver({});
    const client = makeClient({ allowList: new HostAllowList([entry]), lookup: dns.lookup });
    const error = await failure(client.open({ url }));
    expect(error).toBeInstanceOf(HostNotAllowedError);
    expect((error as Error).message).toMatch(/non-public address/);
    expect(dns.asked).toEqual([]);
  });

  it('connects to a private address when the origin is an explicit entry', async () => {
    cdn.routes.set('/m', send(200, {}, 'local'));
    const port = new URL(cdn.origin).port;
    const dns = resolver({ 'media.test': ['127.0.0.1'] });
    const client = makeClient({ allowList: new HostAllowList([`http://media.test:${port}`]), lookup: dns.lookup });
    const response = await client.open({ url: `http://media.test:${port}/m` });
    expect((await buffer(response.body)).toString()).toBe('local');
    expect(dns.asked).toEqual(['media.test']);
  });

  it('connects to localhost (system DNS) when http://localhost:<port> is an explicit entry, and only on that port', async () => {
    cdn.routes.set('/m', send(200, {}, 'local'));
    const port = Number(new URL(cdn.origin).port);
    const client = makeClient({ allowList: new HostAllowList([`http://localhost:${port}`]) });
    const response = await client.open({ url: `http://localhost:${port}/m` });
    expect((await buffer(response.body)).toString()).toBe('local');
    const elsewhere = await failure(client.open({ url: `http://localhost:${port + 1}/m` }));
    expect(elsewhere).toBeInstanceOf(HostNotAllowedError);
    expect((elsewhere as Error).message).toMatch(/is not in MEDIA_ALLOWED_HOSTS/);
  });

  it('refuses a localhost name entry (https) by its address', async () => {
    const error = await failure(makeClient({ allowList: new HostAllowList(['localhost']) }).open({ url: 'https://localhost/m' }));
    expect(error).toBeInstanceOf(HostNotAllowedError);
    expect((error as Error).message).toMatch(/non-public address/);
  });

  it.each([
    ['169.254.169.254'],
    ['::ffff:169.254.169.254'],
    ['10.0.0.1'],
  ])('refuses a redirect hop to an allowed name that resolves to %s', async (address) => {
    const dns = resolver({ 'hop.test': [address] });
    cdn.routes.set('/m', redirect('https://hop.test/latest/meta-data/'));
    const client = makeClient({ allowList: new HostAllowList([cdn.origin, 'hop.test']), lookup: dns.lookup });
    const error = await failure(client.open({ directPath: '/m' }));
    expect(error).toBeInstanceOf(HostNotAllowedError);
    expect((error as Error).message).toMatch(/https:\/\/hop\.test resolves to a non-public address/);
    expect(cdn.hits.get('/m')).toBe(1);
    expect(dns.asked).toEqual(['hop.test']);
  });

  it('refuses a redirect to an IP-literal loopback under a name entry, and keeps counting hops', async () => {
    cdn.routes.set('/m', redirect('https://127.0.0.1/x'));
    const error = await failure(makeClient({ allowList: new HostAllowList([cdn.origin, '127.0.0.1']) }).open({ directPath: '/m' }));
    expect(error).toBeInstanceOf(HostNotAllowedError);
    cdn.routes.set('/loop', redirect('/loop'));
    const dns = resolver({});
    const loop = await failure(makeClient({ maxRedirects: 2, lookup: dns.lookup }).open({ directPath: '/loop' }));
    expect(loop).toBeInstanceOf(CdnUnavailableError);
    expect(cdn.hits.get('/loop')).toBe(3);
  });

  it('falls back to the url when the directPath host resolves to a private address', async () => {
    cdn.routes.set('/u', send(200, {}, 'from url'));
    const dns = resolver({ 'media.test': ['127.0.0.1'] });
    const client = makeClient({
      baseUrl: 'https://media.test',
      allowList: new HostAllowList(['media.test', cdn.origin]),
      lookup: dns.lookup,
    });
    const response = await client.open({ directPath: '/dp', url: `${cdn.origin}/u` });
    expect(response.source).toBe('url');
    expect((await buffer(response.body)).toString()).toBe('from url');
  });
});
