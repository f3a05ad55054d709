/**
 * `wamedia batch` as a real process against a stand-in of the API's batch routes (node:http,
 * answering per the batch contract), so the command's whole behaviour is checked here; the run
 * against the real service is test/e2e/cli-batch.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchItemSchema, describeIssues, type BatchItem, type ErrorBody } from '@wamedia/shared';
import { batchStatus } from '../../../../test/support/batch-status.js';
import { readManifest, startCli } from '../../../../test/support/cli-process.js';

const INSTANCE = 'shop-1';
const TOKEN = `${b64({ alg: 'HS256' })}.${b64({ instanceId: INSTANCE })}.signature`;

function b64(json: object): string {
  return Buffer.from(JSON.stringify(json)).toString('base64url');
}

/** A media the stand-in can serve, keyed by the directPath of the requests naming it. */
interface FakeMedia {
  bytes: Buffer;
  mimetype: string;
  /** How long its job takes after the batch is submitted, in ms. */
  delayMs: number;
  /** The job fails with this. */
  failure?: ErrorBody;
  /** The content route sends one byte changed (the ETag stays the original's). */
  corrupt?: boolean;
}

interface FakeItem {
  id: string;
  media?: FakeMedia;
  readyAt: number;
  error?: ErrorBody;
}

class FakeBatchApi {
  readonly media = new Map<string, FakeMedia>();
  /** Content requests per item id. */
  readonly contentRequests = new Map<string, number>();
  /** Items per accepted batch request. */
  readonly submissions: number[] = [];
  maxItems = 1000;
  baseUrl = '';
  /** Ids the stand-in reports instead of the submitted ones (a hostile or broken server). */
  readonly reportedIds = new Map<string, string>();
  private readonly batches = new Map<string, FakeItem[]>();
  private readonly server: Server = createServer((req, res) => {
    void text(req).then((body) => this.handle(req.method ?? 'GET', new URL(req.url ?? '/', 'http://x'), req.headers.authorization, body, res));
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(method: string, url: URL, authorization: string | undefined, body: string, res: ServerResponse): void {
    const base = `/api/v2/instance/${INSTANCE}/media/batch`;
    if (authorization !== `Bearer ${TOKEN}`) return json(res, 401, error(401, 'Unauthorized', 'bad token'));
    if (method === 'POST' && url.pathname === base) return this.submit(JSON.parse(body) as { items: unknown[] }, res);
    const match = /^\/([^/]+)(?:\/items\/([^/]+)\/content)?$/.exec(url.pathname.slice(base.length));
    const items = match ? this.batches.get(match[1]!) : undefined;
    if (!match || !items) return json(res, 404, error(404, 'Not Found', `no route ${url.pathname}`));
    if (match[2] === undefined) {
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 100);
      return json(res, 200, this.status(match[1]!, items, offset, limit));
    }
    const wanted = decodeURIComponent(match[2]!);
    const item = items.find((i) => (this.reportedIds.get(i.id) ?? i.id) === wanted);
    if (!item) return json(res, 404, error(404, 'Not Found', 'no such item'));
    this.contentRequests.set(item.id, (this.contentRequests.get(item.id) ?? 0) + 1);
    const view = this.view(match[1]!, item);
    if (view.status === 'pending') return json(res, 202, { jobId: 'dl-x', status: 'active', statusUrl: '', contentUrl: '' });
    if (view.error) return json(res, view.error.statusCode, view.error);
    const media = item.media!;
    const bytes = media.corrupt ? Buffer.concat([media.bytes.subarray(0, -1), Buffer.from([media.bytes.at(-1)! ^ 1])]) : media.bytes;
    // A name pointing outside any folder: the command must never use it as a path.
    const disposition = 'attachment; filename="../../escaped-by-disposition.jpg"';
    res.writeHead(200, { 'content-type': media.mimetype, 'content-length': bytes.length, etag: `"${sha256(media.bytes)}"`, 'content-disposition': disposition });
    res.end(bytes);
  }

  private submit({ items }: { items: unknown[] }, res: ServerResponse): void {
    if (items.length > this.maxItems) return json(res, 400, error(400, 'Bad Request', `items: must hold at most ${this.maxItems} items`));
    this.submissions.push(items.length);
    const batchId = `batch-${this.batches.size + 1}`;
    const now = Date.now();
    const fake = items.map((raw): FakeItem => {
      const parsed = batchItemSchema.safeParse(raw);
      const id = String((raw as { id?: unknown }).id);
      if (!parsed.success) return { id, readyAt: now, error: error(400, 'Bad Request', ...describeIssues(parsed.error)) };
      const media = this.media.get(parsed.data.content.directPath ?? '');
      if (!media) return { id, readyAt: now, error: error(404, 'Not Found', 'the media expired') };
      return { id, media, readyAt: now + media.delayMs, error: media.failure };
    });
    this.batches.set(batchId, fake);
    json(res, 202, this.status(batchId, fake, 0, fake.length));
  }

  private view(batchId: string, item: FakeItem): BatchItem {
    const id = this.reportedIds.get(item.id) ?? item.id;
    const contentUrl = `/api/v2/instance/${INSTANCE}/media/batch/${batchId}/items/${encodeURIComponent(id)}/content`;
    if (Date.now() < item.readyAt) return { id, status: 'pending', contentUrl };
    if (item.error) return { id, status: item.error.statusCode === 400 ? 'invalid' : 'failed', error: item.error };
    const { bytes, mimetype } = item.media!;
    return { id, status: 'completed', contentUrl, result: { sha256: sha256(bytes), size: bytes.length, mimetype } };
  }

  private status(batchId: string, items: FakeItem[], offset: number, limit: number) {
    const views = items.map((item) => this.view(batchId, item));
    return batchStatus(batchId, `/api/v2/instance/${INSTANCE}/media/batch/${batchId}`, views, offset, limit);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function error(statusCode: number, reason: string, ...message: string[]): ErrorBody {
  return { message, error: reason, statusCode };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** `wamedia batch <args>`, with WAMEDIA_TOKEN and WAMEDIA_URL only as `env` gives them. */
function startBatch(args: string[], env: NodeJS.ProcessEnv = {}) {
  return startCli(['batch', ...args], { env: { ...process.env, WAMEDIA_TOKEN: undefined, WAMEDIA_URL: undefined, ...env } });
}

const wamedia = (args: string[], env?: NodeJS.ProcessEnv) => startBatch(args, env).done;

describe('wamedia batch', () => {
  const api = new FakeBatchApi();
  let dir: string;
  let counter = 0;

  beforeAll(async () => {
    await api.start();
    dir = await mkdtemp(path.join(tmpdir(), 'wamedia-batch-'));
  });

  afterAll(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A media the stand-in serves; returns its message fields. */
  function publish(size: number, mimetype: string, options: Partial<FakeMedia> = {}) {
    const bytes = randomBytes(size);
    const directPath = `/v/t62.7118-24/${++counter}.enc`;
    api.media.set(directPath, { bytes, mimetype, delayMs: 0, ...options });
    const fields = { directPath, mediaKey: randomBytes(32).toString('base64'), mimetype, fileLength: size };
    return { bytes, fields };
  }

  const cliArgs = (input: string, out: string, ...more: string[]) => [input, '--out', out, '--url', api.baseUrl, '--poll-interval', '20', ...more];

  it('downloads every kind of line into <id>.<ext>, records each item, and a rerun skips what is saved', async () => {
    const out = path.join(dir, 'kinds');
    const raw = publish(3_000, 'application/pdf');
    const baileys = publish(4_000, 'image/jpeg');
    const voice = publish(1_500, 'audio/ogg; codecs=opus');
    const captioned = publish(2_000, 'text/plain');
    const evolution = publish(5_000, 'video/mp4');
    const numbered = publish(100, 'image/webp');
    const corrupt = publish(700, 'image/png', { corrupt: true });
    const lines = [
      { id: 'raw-1', contentType: 'document', content: raw.fields },
      { key: { id: '3EB0AAA' }, message: { imageMessage: { ...baileys.fields, caption: 'hi' } } },
      { key: { id: '3EB0BBB' }, message: { ephemeralMessage: { message: { audioMessage: { ...voice.fields, ptt: true } } } } },
      { key: { id: '3EB0CCC' }, message: { documentWithCaptionMessage: { message: { documentMessage: captioned.fields } } } },
      { event: 'messages.upsert', data: { key: { id: 'EVO1' }, message: { videoMessage: { ...evolution.fields, gifPlayback: true } } } },
      { contentType: 'sticker', content: numbered.fields },
      { id: 'expired', contentType: 'image', content: { directPath: '/unknown.enc', mediaKey: randomBytes(32).toString('base64') } },
      { id: 'corrupt', contentType: 'image', content: corrupt.fields },
      { id: 'no-key', contentType: 'image', content: { directPath: '/x.enc' } },
    ].map((line) => JSON.stringify(line));
    const input = path.join(dir, 'kinds.jsonl');
    await writeFile(input, `${lines.join('\n')}\nnot json\n`);
    // The stand-in takes 3 items per request: the command halves its chunk until they fit.
    api.maxItems = 3;

    const first = await wamedia(cliArgs(input, out), { WAMEDIA_TOKEN: TOKEN });
    api.maxItems = 1000;
    expect(first.stderr).toMatch(/4 of 10 item\(s\) failed or are invalid \(see .*manifest\.jsonl\)\n$/);
    expect(first.code).toBe(1);
    expect(api.submissions.every((n) => n <= 3)).toBe(true);

    const saved = { 'raw-1.pdf': raw, '3EB0AAA.jpg': baileys, '3EB0BBB.ogg': voice, '3EB0CCC.txt': captioned, 'EVO1.mp4': evolution, '6.webp': numbered };
    for (const [name, media] of Object.entries(saved)) expect((await readFile(path.join(out, name))).equals(media.bytes), name).toBe(true);
    expect((await readdir(out)).sort()).toEqual([...Object.keys(saved), 'manifest.jsonl'].sort());

    const byId = new Map((await readManifest(out)).map((entry) => [entry.id, entry]));
    expect(byId.size).toBe(10);
    expect(byId.get('3EB0BBB')).toEqual({
      id: '3EB0BBB', status: 'completed', line: 3, sha256: sha256(voice.bytes), size: 1_500, mimetype: 'audio/ogg; codecs=opus', path: '3EB0BBB.ogg',
    });
    expect(byId.get('expired')).toMatchObject({ status: 'failed', line: 7, error: { statusCode: 404, message: ['the media expired'] } });
    expect(byId.get('corrupt')).toMatchObject({ status: 'failed', error: { error: 'Media Mismatch', message: [expect.stringMatching(/SHA-256/)] } });
    expect(api.contentRequests.get('corrupt')).toBe(3);
    expect(byId.get('no-key')).toMatchObject({ status: 'invalid', line: 9, error: { statusCode: 400, message: [expect.stringMatching(/^content\.mediaKey: is required/)] } });
    expect(byId.get('10')).toMatchObject({ status: 'invalid', line: 10, error: { message: [expect.stringMatching(/^not valid JSON/)] } });

    // Again: what is saved is neither submitted nor fetched; the failures are tried again.
    const before = new Map(api.contentRequests);
    const submittedBefore = api.submissions.reduce((a, b) => a + b, 0);
    const second = await wamedia(cliArgs(input, out, '--token', TOKEN, '--instance', INSTANCE));
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/6\/10 done \(6 skipped\), 4 failed/);
    for (const id of ['raw-1', '3EB0AAA', '3EB0BBB', '3EB0CCC', 'EVO1', '6']) expect(api.contentRequests.get(id)).toBe(before.get(id));
    expect(api.submissions.reduce((a, b) => a + b, 0) - submittedBefore).toBe(2); // expired, corrupt
    const entries = await readManifest(out);
    expect(entries.map((e) => e.id).sort()).toEqual([...byId.keys()].sort());
  });

  it('writes nothing outside --out, whatever ids and file names the server answers with', async () => {
    const root = path.join(dir, 'hostile');
    const out = path.join(root, 'out');
    // A folder beside --out, as a hostile server would aim at (its own subfolder would be created by nobody).
    await mkdir(path.join(root, 'escaped'), { recursive: true });
    const victim = publish(1_000, 'image/jpeg');
    const input = path.join(root, 'traversal.jsonl');
    await writeFile(input, JSON.stringify({ id: 'victim', contentType: 'image', content: victim.fields }));
    api.reportedIds.set('victim', '../escaped/pwned');
    const traversal = await wamedia(cliArgs(input, out), { WAMEDIA_TOKEN: TOKEN });
    api.reportedIds.clear();
    expect(traversal.code, traversal.stderr).toBe(1);
    expect(traversal.stderr).toMatch(/does not match the contract: items\.0\.id/);
    expect(await readdir(path.join(root, 'escaped'))).toEqual([]);

    // Well-formed ids it never submitted are ignored; the Content-Disposition name ("../../...") is never a path.
    const honest = publish(1_000, 'image/jpeg');
    const stranger = publish(1_000, 'image/jpeg');
    const input2 = path.join(root, 'strangers.jsonl');
    await writeFile(input2, [
      { id: 'honest', contentType: 'image', content: honest.fields },
      { id: 'stranger', contentType: 'image', content: stranger.fields },
    ].map((line) => JSON.stringify(line)).join('\n'));
    api.reportedIds.set('stranger', 'not-submitted');
    await wamedia(cliArgs(input2, out), { WAMEDIA_TOKEN: TOKEN });
    api.reportedIds.clear();
    expect((await readdir(out)).sort()).toEqual(['honest.jpg', 'manifest.jsonl']);
    expect((await readFile(path.join(out, 'honest.jpg'))).equals(honest.bytes)).toBe(true);
    expect(api.contentRequests.get('not-submitted')).toBeUndefined();
    expect((await readdir(root)).sort()).toEqual(['escaped', 'out', 'strangers.jsonl', 'traversal.jsonl']);
    expect(await readdir(dir)).not.toContain('escaped-by-disposition.jpg');
  });

  it('stops on SIGINT with exit 130 and no temporary file; a rerun fetches the rest', async () => {
    const out = path.join(dir, 'interrupted');
    const medias = Array.from({ length: 40 }, (_, i) => ({
      id: `m${i}`,
      ...publish(20_000 + i, 'image/jpeg', { delayMs: 100 + i * 150 }),
    }));
    const input = path.join(dir, 'interrupted.jsonl');
    await writeFile(input, medias.map(({ id, fields }) => JSON.stringify({ id, contentType: 'image', content: fields })).join('\n'));

    const { child, done } = startBatch(cliArgs(input, out, '--chunk-size', '15', '--concurrency', '4'), { WAMEDIA_TOKEN: TOKEN });
    const deadline = Date.now() + 15_000;
    while ((await readManifest(out)).length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const stopped = await done;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/interrupted: stopping/);
    expect(stopped.stderr).toMatch(/stopped with \d+ item\(s\) left; run the same command again to resume\n$/);
    const partial = await readManifest(out);
    expect(partial.length).toBeGreaterThanOrEqual(5);
    expect(partial.length).toBeLessThan(40);
    expect(partial.every((entry) => entry.status === 'completed')).toBe(true);
    expect((await readdir(out)).filter((name) => name.endsWith('.tmp'))).toEqual([]);

    const rerun = await wamedia(cliArgs(input, out), { WAMEDIA_TOKEN: TOKEN });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(new RegExp(`40/40 done \\(${partial.length} skipped\\), 0 failed`));
    for (const { id, bytes } of medias) expect((await readFile(path.join(out, `${id}.jpg`))).equals(bytes), id).toBe(true);
    const entries = await readManifest(out);
    expect(entries.map((e) => e.id).sort()).toEqual(medias.map((m) => m.id).sort());
    for (const { id } of partial) expect(api.contentRequests.get(id), id).toBe(1);
  });

  it('refuses wrong usage with exit 2 and one line', async () => {
    const input = path.join(dir, 'usage.jsonl');
    await writeFile(input, '');
    const anonymous = `${b64({ alg: 'HS256' })}.${b64({ sub: 'x' })}.sig`;
    const runs = await Promise.all([
      wamedia([input, '--out', dir]),
      wamedia([input, '--out', dir, '--token', anonymous]),
      wamedia([input, '--token', TOKEN]),
      wamedia([input, '--out', dir, '--token', TOKEN, '--concurrency', '0']),
      wamedia(['--out', dir, '--token', TOKEN]),
    ]);
    const messages = runs.map(({ code, stderr }) => {
      expect(code, stderr).toBe(2);
      expect(stderr.split('\n')).toHaveLength(2);
      return stderr;
    });
    expect(messages[0]).toMatch(/missing --token \(or WAMEDIA_TOKEN\)/);
    expect(messages[1]).toMatch(/missing --instance/);
    expect(messages[2]).toMatch(/missing --out/);
    expect(messages[3]).toMatch(/--concurrency: must be a whole number from 1 to 64/);
    expect(messages[4]).toMatch(/give exactly one input file/);
  });
});
