import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BatchItem } from '@wamedia/shared';
import { batchStatus } from '../../../test/support/batch-status.js';
import { WamediaApiError, WamediaClient } from './index.js';

/**
 * The client against a node:http server that answers like the API's contract, one scripted
 * handler per test, every request recorded.
 */

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  body: string;
}

type Handler = (request: Recorded, res: ServerResponse) => void;

const TOKEN = 'header.payload.signature';
const INSTANCE = 'shop 42';
const BASE = `/api/v2/instance/${encodeURIComponent(INSTANCE)}/media`;

let server: Server;
let origin: string;
let handler: Handler;
const requests: Recorded[] = [];

beforeAll(async () => {
  server = createServer(async (req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://api');
    const recorded: Recorded = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
      body: await text(req),
    };
    requests.push(recorded);
    handler(recorded, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  requests.length = 0;
  handler = (_request, res) => json(res, 500, { message: ['no handler'], error: 'Internal Server Error', statusCode: 500 });
});

const client = () => new WamediaClient({ baseUrl: `${origin}/`, token: TOKEN, instanceId: INSTANCE });

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendMedia(res: ServerResponse, bytes: Buffer, mimetype: string, filename = 'image-0123456789abcdef.jpg'): void {
  res.writeHead(200, {
    'content-type': mimetype,
    'content-length': bytes.length,
    etag: `"${sha256(bytes)}"`,
    'accept-ranges': 'bytes',
    'content-disposition': `attachment; filename="${filename}"`,
  });
  res.end(bytes);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

function errorBody(statusCode: number, error: string, ...message: string[]) {
  return { message, error, statusCode };
}

describe('download', () => {
  const media = randomBytes(20_000);
  const mediaKey = randomBytes(32);

  it('posts the request with the bearer token and Buffers as base64, and streams a 200 with its headers', async () => {
    handler = (_request, res) => sendMedia(res, media, 'image/jpeg');
    const result = await client().download(
      { contentType: 'image', content: { directPath: '/v/t62/x.enc', mediaKey, fileLength: media.length } },
      { timeoutMs: 5000 },
    );
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request).toMatchObject({ method: 'POST', path: `${BASE}/directly-download`, authorization: `Bearer ${TOKEN}` });
    expect(request!.query.get('timeout')).toBe('5000');
    expect(JSON.parse(request!.body)).toEqual({
      contentType: 'image',
      content: { directPath: '/v/t62/x.enc', mediaKey: mediaKey.toString('base64'), fileLength: media.length },
    });
    expect(result).toMatchObject({ sha256: sha256(media), size: media.length, mimetype: 'image/jpeg', filename: 'image-0123456789abcdef.jpg' });
    expect((await readAll(result.body)).equals(media)).toBe(true);
  });

  it('sends a WhatsApp message as the request it comes to: its media fields and key, no thumbnail or caption', async () => {
    handler = (_request, res) => sendMedia(res, media, 'image/jpeg');
    const key = { remoteJid: '5511999999999@s.whatsapp.net', fromMe: false, id: '3EB0C767D82B0A4F' };
    const imageMessage = { directPath: '/v/t62/x.enc', mediaKey, mimetype: 'image/jpeg', caption: 'hi', jpegThumbnail: randomBytes(5_000) };
    const message = { event: 'messages.upsert', data: { key, message: { viewOnceMessageV2: { message: { imageMessage } } } } };
    const result = await client().download({ message, callbackUrl: 'https://hooks.example/x' });
    expect(JSON.parse(requests[0]!.body)).toEqual({
      contentType: 'image',
      content: { directPath: '/v/t62/x.enc', mediaKey: mediaKey.toString('base64'), mimetype: 'image/jpeg', messageKey: key },
      callbackUrl: 'https://hooks.example/x',
    });
    expect((await readAll(result.body)).equals(media)).toBe(true);
  });

  it('sends a message without a valid media as it is, and throws the 400 the API answers', async () => {
    const message = { key: { id: 'x' }, message: { conversation: 'hello' } };
    handler = (_request, res) => json(res, 400, errorBody(400, 'Bad Request', 'message.message: no media: ...'));
    const error = await client().download({ message }).catch((e: unknown) => e);
    expect(JSON.parse(requests[0]!.body)).toEqual({ message });
    expect(error).toMatchObject({ statusCode: 400, messages: ['message.message: no media: ...'] });

    // Nested too deep to read safely: sent as it is too, for the API's 400.
    const deep = JSON.parse(`{"imageMessage":{"directPath":"/x","mediaKey":${'['.repeat(100)}${']'.repeat(100)}}}`);
    await expect(client().download({ message: deep })).rejects.toMatchObject({ statusCode: 400 });
    expect(JSON.parse(requests[1]!.body)).toEqual({ message: deep });
  });

  it('follows a 202: polls the job status until it ends, then fetches the content', async () => {
    const jobId = `dl-${'a'.repeat(64)}`;
    const jobPath = `${BASE}/jobs/${jobId}`;
    let polls = 0;
    handler = ({ path }, res) => {
      if (path.endsWith('/directly-download')) {
        return json(res, 202, { jobId, status: 'waiting', statusUrl: jobPath, contentUrl: `${jobPath}/content` });
      }
      if (path === jobPath) {
        polls++;
        const done = polls >= 3;
        return json(res, 200, {
          jobId,
          status: done ? 'completed' : 'active',
          attemptsMade: done ? 1 : 0,
          createdAt: new Date().toISOString(),
          ...(done ? { result: { sha256: sha256(media), size: media.length, mimetype: 'audio/ogg' } } : {}),
        });
      }
      if (path === `${jobPath}/content`) return sendMedia(res, media, 'audio/ogg', 'audio-x.ogg');
    };
    const result = await client().download({ contentType: 'audio', content: { url: 'https://mmg.whatsapp.net/x', mediaKey } }, { timeoutMs: 0, pollIntervalMs: 10 });
    expect((await readAll(result.body)).equals(media)).toBe(true);
    expect(result.filename).toBe('audio-x.ogg');
    expect(requests.map((r) => r.path)).toEqual([`${BASE}/directly-download`, jobPath, jobPath, jobPath, `${jobPath}/content`]);
  });

  it('throws a failed job as the WamediaApiError its content route answers', async () => {
    const jobId = `dl-${'b'.repeat(64)}`;
    const jobPath = `${BASE}/jobs/${jobId}`;
    handler = ({ path }, res) => {
      if (path.endsWith('/directly-download')) return json(res, 202, { jobId, status: 'active', statusUrl: jobPath, contentUrl: `${jobPath}/content` });
      if (path === jobPath) {
        return json(res, 200, { jobId, status: 'failed', attemptsMade: 1, createdAt: new Date().toISOString(), error: { statusCode: 404, message: 'expired' } });
      }
      return json(res, 404, errorBody(404, 'Not Found', 'the media expired on the CDN'));
    };
    const error = await client()
      .download({ contentType: 'image', content: { directPath: '/x', mediaKey } }, { pollIntervalMs: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WamediaApiError);
    expect(error).toMatchObject({ statusCode: 404, error: 'Not Found', messages: ['the media expired on the CDN'] });
  });

  it('throws an error answer as WamediaApiError with the status, reason and messages of its body', async () => {
    handler = (_request, res) => json(res, 422, errorBody(422, 'Unprocessable Entity', 'integrity check failed: HMAC mismatch'));
    const error = await client().download({ contentType: 'image', content: { directPath: '/x', mediaKey } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WamediaApiError);
    expect(error).toMatchObject({
      statusCode: 422,
      error: 'Unprocessable Entity',
      messages: ['integrity check failed: HMAC mismatch'],
      retryable: false,
      message: '422 Unprocessable Entity: integrity check failed: HMAC mismatch',
    });
    expect((error as WamediaApiError).toJSON()).toEqual(errorBody(422, 'Unprocessable Entity', 'integrity check failed: HMAC mismatch'));
  });

  it('throws an error without the error body (a proxy page) with its status and a glimpse of it', async () => {
    handler = (_request, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad gateway</html>');
    };
    const error = await client().download({ contentType: 'image', content: { directPath: '/x', mediaKey } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 502, error: 'Bad Gateway', messages: ['<html>Bad gateway</html>'], retryable: true });
  });

  it('refuses a media answer without an ETag', async () => {
    handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': 3 });
      res.end('abc');
    };
    const error = await client().download({ contentType: 'image', content: { directPath: '/x', mediaKey } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 200, error: 'Unexpected Response', messages: [expect.stringMatching(/ETag/)] });
  });
});

describe('response modes', () => {
  const bytes = randomBytes(3_000);
  const mediaKey = randomBytes(32);
  const reference = { contentType: 'image', content: { directPath: '/v/t62/x.enc', mediaKey } } as const;
  const link = {
    url: 'http://files.example/media/files/abc?exp=1&name=image-x.jpg&type=image%2Fjpeg&sig=s',
    expiresAt: '2030-01-01T00:00:00.000Z',
    sha256: sha256(bytes),
    size: bytes.length,
    mimetype: 'image/jpeg',
    fileName: 'image-0123456789abcdef.jpg',
  };
  const base64 = { mimetype: 'image/jpeg', fileName: link.fileName, size: bytes.length, sha256: sha256(bytes), base64: bytes.toString('base64') };

  it("download with response 'url' asks for a link, with its ttl, and returns it checked", async () => {
    handler = (_request, res) => json(res, 200, link);
    const answer = await client().download(reference, { response: 'url', ttlSeconds: 120, timeoutMs: 10 });
    expect(answer).toEqual(link);
    expect(Object.fromEntries(requests[0]!.query)).toEqual({ response: 'url', ttl: '120', timeout: '10' });
  });

  it("download with response 'base64' returns the JSON; the file needs no query", async () => {
    handler = (_request, res) => json(res, 200, base64);
    expect(await client().download(reference, { response: 'base64' })).toEqual(base64);
    expect(Object.fromEntries(requests[0]!.query)).toEqual({ response: 'base64' });
    handler = (_request, res) => sendMedia(res, bytes, 'image/jpeg');
    await readAll((await client().download(reference, { response: 'file' })).body);
    expect(requests[1]!.query.toString()).toBe('');
  });

  it('follows a 202 to the content route in the same mode', async () => {
    const jobId = `dl-${'c'.repeat(64)}`;
    const jobPath = `${BASE}/jobs/${jobId}`;
    handler = ({ path }, res) => {
      if (path.endsWith('/directly-download')) return json(res, 202, { jobId, status: 'active', statusUrl: jobPath, contentUrl: `${jobPath}/content` });
      if (path === jobPath) return json(res, 200, { jobId, status: 'completed', attemptsMade: 1, createdAt: new Date().toISOString() });
      json(res, 200, link);
    };
    expect(await client().download(reference, { response: 'url', ttlSeconds: 60, pollIntervalMs: 1 })).toEqual(link);
    const content = requests.at(-1)!;
    expect(content.path).toBe(`${jobPath}/content`);
    expect(Object.fromEntries(content.query)).toEqual({ response: 'url', ttl: '60' });
  });

  it('refuses a link answer that does not match the contract', async () => {
    handler = (_request, res) => json(res, 200, { url: 'x' });
    await expect(client().download(reference, { response: 'url' })).rejects.toMatchObject({
      error: 'Unexpected Response',
      messages: [expect.stringMatching(/expiresAt/)],
    });
  });

  it('throws the 413 of a media too large for base64', async () => {
    handler = (_request, res) => json(res, 413, errorBody(413, 'Payload Too Large', 'over BASE64_MAX_BYTES: ask for response=url'));
    await expect(client().download(reference, { response: 'base64' })).rejects.toMatchObject({ statusCode: 413, retryable: false });
  });

  it("batchItemContent with response 'url' returns the item's link", async () => {
    handler = (_request, res) => json(res, 200, link);
    expect(await client().batchItemContent('b-2', 'x', { response: 'url' })).toEqual(link);
    expect(requests[0]!.path).toBe(`${BASE}/batch/b-2/items/x/content`);
    expect(Object.fromEntries(requests[0]!.query)).toEqual({ response: 'url' });
  });
});

describe('batches', () => {
  const batchId = 'b-1';

  function item(id: string, status: BatchItem['status']): BatchItem {
    const base = { id, status };
    if (status === 'completed') return { ...base, result: { sha256: '0'.repeat(64), size: 1, mimetype: 'image/jpeg' } };
    if (status === 'failed') return { ...base, error: errorBody(404, 'Not Found', 'expired') };
    if (status === 'invalid') return { ...base, error: errorBody(400, 'Bad Request', 'content.mediaKey: is required') };
    return base;
  }

  const status = (items: BatchItem[], offset?: number, limit?: number) => batchStatus(batchId, `${BASE}/batch/${batchId}`, items, offset, limit);

  it('submitBatch posts the items (Buffers as base64) and the callbackUrl, and returns the BatchStatus', async () => {
    const mediaKey = randomBytes(32);
    const answer = status([item('a', 'pending'), item('b', 'invalid')]);
    handler = (_request, res) => json(res, 202, answer);
    const result = await client().submitBatch(
      [
        { id: 'a', contentType: 'image', content: { directPath: '/a', mediaKey } },
        { id: 'b', contentType: 'image', content: { directPath: '/b' } as never },
      ],
      { callbackUrl: 'https://hooks.example/wamedia' },
    );
    expect(result).toEqual(answer);
    expect(requests[0]).toMatchObject({ method: 'POST', path: `${BASE}/batch`, authorization: `Bearer ${TOKEN}` });
    expect(JSON.parse(requests[0]!.body)).toEqual({
      items: [
        { id: 'a', contentType: 'image', content: { directPath: '/a', mediaKey: mediaKey.toString('base64') } },
        { id: 'b', contentType: 'image', content: { directPath: '/b' } },
      ],
      callbackUrl: 'https://hooks.example/wamedia',
    });
  });

  it('submitBatch sends message items as their references, each with its id (its own, else key.id)', async () => {
    const mediaKey = randomBytes(32);
    handler = (_request, res) => json(res, 202, status([item('K1', 'pending'), item('mine', 'pending'), item('#2', 'invalid')]));
    const key = { remoteJid: '1@s.whatsapp.net', fromMe: true, id: 'K1' };
    const audioMessage = { url: 'https://mmg.whatsapp.net/a', mediaKey, ptt: true, seconds: 3 };
    await client().submitBatch([
      { message: { key, message: { audioMessage } } },
      { id: 'mine', message: { videoMessage: { directPath: '/v', mediaKey, gifPlayback: true } } },
      { message: { stickerMessage: { directPath: '/s', mediaKey } } },
    ]);
    expect(JSON.parse(requests[0]!.body).items).toEqual([
      { id: 'K1', contentType: 'ptt', content: { url: 'https://mmg.whatsapp.net/a', mediaKey: mediaKey.toString('base64'), messageKey: key } },
      { id: 'mine', contentType: 'gif', content: { directPath: '/v', mediaKey: mediaKey.toString('base64') } },
      // No id to go by: sent as it is, for the API to mark invalid.
      { message: { stickerMessage: { directPath: '/s', mediaKey: mediaKey.toString('base64') } } },
    ]);
  });

  it('submitBatch throws the 400 of a bad envelope', async () => {
    handler = (_request, res) => json(res, 400, errorBody(400, 'Bad Request', 'items: must hold at least one item'));
    await expect(client().submitBatch([])).rejects.toMatchObject({ statusCode: 400, messages: ['items: must hold at least one item'] });
  });

  it('batchStatus asks for one page', async () => {
    const items = ['a', 'b', 'c'].map((id) => item(id, 'completed'));
    handler = ({ query }, res) => json(res, 200, status(items, Number(query.get('offset')), Number(query.get('limit'))));
    const page = await client().batchStatus(batchId, { offset: 1, limit: 1 });
    expect(page.items.map((i) => i.id)).toEqual(['b']);
    expect(page.nextOffset).toBe(2);
    expect(requests[0]!.path).toBe(`${BASE}/batch/${batchId}`);
    expect(requests[0]!.query.toString()).toBe('offset=1&limit=1');
  });

  it('batchStatus and batchResults ask for links; submitBatch asks for them in the webhooks', async () => {
    handler = (_request, res) => json(res, 200, status([item('a', 'completed')], 0, 100));
    await client().batchStatus(batchId, { links: true, ttlSeconds: 30 });
    expect(requests[0]!.query.toString()).toBe('links=1&ttl=30');
    for await (const _ of client().batchResults(batchId, { links: true }));
    expect(requests[1]!.query.get('links')).toBe('1');
    handler = (_request, res) => json(res, 202, status([item('a', 'pending')], 0, 100));
    await client().submitBatch([], { callbackUrl: 'https://hooks.example/x', links: true });
    expect(JSON.parse(requests[2]!.body)).toEqual({ items: [], callbackUrl: 'https://hooks.example/x', links: true });
  });

  it('batchResults yields every item once as it ends, across pages, resuming at the first pending one', async () => {
    // 7 items, pages of 3; at the start of each polling round one more pending item ends.
    const items = Array.from({ length: 7 }, (_, i) => item(`i${i}`, i === 2 ? 'invalid' : 'pending'));
    const endingOrder = [6, 0, 5, 1, 4, 3];
    const pageOffsets: number[] = [];
    handler = ({ query }, res) => {
      const offset = Number(query.get('offset'));
      const roundStarts = pageOffsets.length === 0 || offset <= pageOffsets.at(-1)!;
      pageOffsets.push(offset);
      const ending = roundStarts ? endingOrder.shift() : undefined;
      if (ending !== undefined) items[ending] = item(`i${ending}`, ending === 4 ? 'failed' : 'completed');
      json(res, 200, status(items, offset, Number(query.get('limit'))));
    };
    const seen: string[] = [];
    for await (const result of client().batchResults(batchId, { pollIntervalMs: 1, pageSize: 3 })) {
      seen.push(`${result.id}:${result.status}`);
    }
    expect(seen.sort()).toEqual(
      ['i0:completed', 'i1:completed', 'i2:invalid', 'i3:completed', 'i4:failed', 'i5:completed', 'i6:completed'].sort(),
    );
    expect(endingOrder).toEqual([]);
    // Each round starts at the item the round before found pending first: 0, 0, 1, 1, 3, 3.
    expect(pageOffsets).toEqual([0, 3, 6, 0, 3, 6, 1, 4, 1, 4, 3, 6, 3, 6]);
  });

  it('batchResults retries a transient failure and gives up on a final one', async () => {
    const items = [item('a', 'completed')];
    let calls = 0;
    handler = (_request, res) => {
      calls++;
      if (calls <= 2) return json(res, 503, errorBody(503, 'Service Unavailable', 'redis down'));
      json(res, 200, status(items));
    };
    const ids: string[] = [];
    for await (const result of client().batchResults(batchId, { pollIntervalMs: 1 })) ids.push(result.id);
    expect(ids).toEqual(['a']);
    expect(calls).toBe(3);

    handler = (_request, res) => json(res, 404, errorBody(404, 'Not Found', 'batch b-1 not found'));
    const consume = async () => {
      for await (const _ of client().batchResults(batchId, { pollIntervalMs: 1 }));
    };
    await expect(consume()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('batchResults refuses an item id no API would answer (a path, a hostile server)', async () => {
    handler = (_request, res) => json(res, 200, status([item('../escaped/pwned', 'completed')]));
    const consume = async () => {
      for await (const _ of client().batchResults(batchId, { pollIntervalMs: 1 }));
    };
    await expect(consume()).rejects.toThrow(/does not match the contract: items\.0\.id/);
  });

  it('batchResults stops when its signal aborts', async () => {
    const controller = new AbortController();
    // Aborted while the second poll is at the server (not on a timer a loaded machine may fire
    // before the first): no request of this test is left to reach the next test's handler.
    handler = (_request, res) => {
      if (requests.length === 2) controller.abort();
      json(res, 200, status([item('a', 'pending')]));
    };
    const consume = async () => {
      for await (const _ of client().batchResults(batchId, { pollIntervalMs: 5, signal: controller.signal }));
    };
    await expect(consume()).rejects.toMatchObject({ name: 'AbortError' });
    expect(requests.length).toBeGreaterThan(1);
  });

  it('batchItemContent waits out a 202, then streams the file; a failed item throws its error', async () => {
    const bytes = randomBytes(1000);
    const path = `${BASE}/batch/${batchId}/items/photo-1/content`;
    let calls = 0;
    handler = (_request, res) => {
      if (++calls === 1) return json(res, 202, { jobId: 'dl-x', status: 'active', statusUrl: 's', contentUrl: path });
      sendMedia(res, bytes, 'image/png', 'image-x.png');
    };
    const media = await client().batchItemContent(batchId, 'photo-1', { pollIntervalMs: 1 });
    expect(media).toMatchObject({ sha256: sha256(bytes), size: 1000, mimetype: 'image/png' });
    expect((await readAll(media.body)).equals(bytes)).toBe(true);
    expect(requests.filter((r) => r.path === path)).toHaveLength(2);

    handler = (_request, res) => json(res, 422, errorBody(422, 'Unprocessable Entity', 'integrity check failed: HMAC mismatch'));
    await expect(client().batchItemContent(batchId, 'photo-1')).rejects.toMatchObject({ statusCode: 422 });
  });
});
