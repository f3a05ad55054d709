/**
 * `wamedia batch` end to end: the CLI as a real process against a whole stack (the API, two
 * workers, Redis, a folder store) and the fake CDN. 200 media, handed over in every shape the
 * command reads (request bodies, Baileys messages, Evolution API webhooks), are downloaded; the
 * run is interrupted with SIGINT partway and started again; every file must come out byte-exact,
 * the manifest complete, and no media fetched twice from the CDN.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContentType } from '@wamedia/shared';
import { useCdnStack } from '../support/cdn-stack.js';
import { readManifest, startCli, type ManifestEntry } from '../support/cli-process.js';
import { type PublishedMedia } from '../support/fake-cdn.js';

const INSTANCE = 'instance-batch';
/** Each CDN answer waits this long, so 200 downloads take seconds and SIGINT lands partway. */
const CDN_DELAY_MS = 150;

/** One media of the input: the line that names it, and what the file must be. */
interface Expected {
  id: string;
  media: PublishedMedia;
  extension: string;
}

describe('wamedia batch against the service', () => {
  let dir: string;
  let out: string;
  let input: string;
  const expected: Expected[] = [];
  /** Lines that are not a usable media: the ids they get, by line number. */
  const rejected: string[] = [];

  const suite = useCdnStack({ workers: 2, env: { WORKER_CONCURRENCY: '4' } });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wamedia-cli-batch-'));
    out = path.join(dir, 'out');
    input = path.join(dir, 'media.jsonl');
    await writeFile(input, buildInput());
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** 200 media in five shapes, and two lines that name none. */
  function buildInput(): string {
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) {
      const lineNumber = lines.length + 1;
      const shape = shapes[i % shapes.length]!;
      const media = suite.cdn.publish(randomBytes(1_000 + ((i * 997) % 60_000)), shape.contentType);
      suite.cdn.setBehaviour(media.directPathname, { kind: 'serve', headerDelayMs: CDN_DELAY_MS });
      const { id, line } = shape.line(media, i);
      expected.push({ id: id ?? String(lineNumber), media, extension: shape.extension });
      lines.push(JSON.stringify(line));
      if (i === 60) {
        lines.push('{"key":{"id":"TORN"},"message":{"imageMess');
        rejected.push(String(lines.length));
      }
      if (i === 120) {
        // Valid for the schema, refused by the API: the url's host is not an allowed CDN host.
        const foreign = { url: 'https://cdn.example.com/v/x.enc', mediaKey: randomBytes(32).toString('base64') };
        lines.push(JSON.stringify({ id: 'foreign-host', contentType: 'image', content: foreign }));
        rejected.push('foreign-host');
      }
    }
    return `${lines.join('\n')}\n`;
  }

  function wamedia() {
    const args = ['batch', input, '--out', out, '--url', suite.stack.baseUrl, '--concurrency', '8', '--poll-interval', '100'];
    // The instance comes from the token's claim.
    return startCli(args, { env: { ...process.env, WAMEDIA_TOKEN: suite.stack.token(INSTANCE) } });
  }

  const completed = async () => (await readManifest(out)).filter((entry) => entry.status === 'completed');

  it('downloads 200 media, stops cleanly on SIGINT, resumes, and fetches each media from the CDN once', { timeout: 180_000 }, async () => {
    // 1. Interrupted once a few files are saved.
    const first = wamedia();
    const deadline = Date.now() + 60_000;
    while ((await completed()).length < 20) {
      if (Date.now() > deadline) {
        first.child.kill('SIGKILL');
        throw new Error(`no progress within 60 s\n${(await first.done).stderr}\n${suite.stack.describe()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    first.child.kill('SIGINT');
    const interrupted = await first.done;
    expect(interrupted.code, interrupted.stderr).toBe(130);
    expect(interrupted.stderr).toMatch(/run the same command again to resume\n$/);
    expect((await readdir(out)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    const saved = await completed();
    expect(saved.length).toBeGreaterThanOrEqual(20);
    expect(saved.length, 'the first run was to be interrupted partway').toBeLessThan(200);
    await expectFilesOf(saved);

    // 2. Resumed: the rest is downloaded; the two rejected lines make the exit status 1.
    const second = await wamedia().done;
    expect(second.stderr).toMatch(/2 of 202 item\(s\) failed or are invalid/);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`200/202 done \\(${saved.length} skipped\\), 2 failed`));

    const entries = await readManifest(out);
    expect(entries).toHaveLength(202);
    const byId = new Map(entries.map((entry) => [entry.id, entry]));
    expect(byId.size).toBe(202);
    for (const { id, media, extension } of expected) {
      expect(byId.get(id), id).toEqual({
        id,
        status: 'completed',
        line: expect.any(Number),
        sha256: media.sha256,
        size: media.fileLength,
        mimetype: expect.any(String),
        path: `${id}.${extension}`,
      });
    }
    await expectFilesOf(entries.filter((entry) => entry.status === 'completed'));
    expect(byId.get(rejected[0]!)).toMatchObject({ status: 'invalid', error: { message: [expect.stringMatching(/not valid JSON/)] } });
    expect(byId.get('foreign-host')).toMatchObject({ status: expect.stringMatching(/^(invalid|failed)$/), error: { statusCode: 400 } });
    expect((await readdir(out)).sort()).toEqual([...expected.map(({ id, extension }) => `${id}.${extension}`), 'manifest.jsonl'].sort());

    // The SIGINT and the resubmission cost no second download: the service shared the jobs.
    const twice = expected.filter(({ media }) => suite.cdn.countMedia(media) !== 1).map(({ id, media }) => `${id}: ${suite.cdn.countMedia(media)}`);
    expect(twice, suite.stack.describe()).toEqual([]);

    // 3. Once more: everything is there already; the CDN is not asked again.
    const before = suite.cdn.count();
    const third = await wamedia().done;
    expect(third.code).toBe(1);
    expect(third.stderr).toMatch(/200\/202 done \(200 skipped\), 2 failed/);
    expect(suite.cdn.count()).toBe(before);
    expect(await readManifest(out)).toHaveLength(202);
  });

  /** Each completed entry's file is there, byte-exact. */
  async function expectFilesOf(entries: ManifestEntry[]): Promise<void> {
    const byId = new Map(expected.map((e) => [e.id, e]));
    for (const entry of entries) {
      const wanted = byId.get(entry.id);
      expect(wanted, `unexpected id ${entry.id}`).toBeDefined();
      expect(entry.path).toBe(`${entry.id}.${wanted!.extension}`);
      const bytes = await readFile(path.join(out, entry.path!));
      expect(bytes.equals(wanted!.media.plaintext), entry.id).toBe(true);
    }
  }
});

// ---- The shapes of an input line ----------------------------------------------------------

interface Shape {
  contentType: ContentType;
  extension: string;
  /** The line for a media, and the id it carries (none: the line number). */
  line(media: PublishedMedia, index: number): { id: string | undefined; line: unknown };
}

const keyId = (index: number) => `3EB0${index.toString(16).toUpperCase().padStart(4, '0')}${randomBytes(6).toString('hex').toUpperCase()}`;
const bytesOf = (base64: string) => [...Buffer.from(base64, 'base64')];
/** How a Uint8Array comes out of JSON.stringify, as Evolution API webhooks carry bytes. */
const uint8Json = (base64: string) => Object.fromEntries(bytesOf(base64).map((byte, i) => [String(i), byte]));

const shapes: Shape[] = [
  {
    // The body of directly-download, with an id.
    contentType: 'document',
    extension: 'pdf',
    line: (media, i) => {
      const id = `raw-${i}`;
      const { url, directPath, mediaKey, fileSha256, fileEncSha256, fileLength } = media;
      return { id, line: { id, contentType: 'document', content: { url, directPath, mediaKey, mimetype: 'application/pdf', fileSha256, fileEncSha256, fileLength } } };
    },
  },
  {
    // A Baileys WAMessage: Buffers as {type, data}, fileLength as a string.
    contentType: 'image',
    extension: 'jpg',
    line: (media, i) => {
      const id = keyId(i);
      const imageMessage = {
        url: media.url,
        directPath: media.directPath,
        mimetype: 'image/jpeg',
        caption: `photo ${i}`,
        fileSha256: { type: 'Buffer', data: bytesOf(media.fileSha256) },
        fileEncSha256: { type: 'Buffer', data: bytesOf(media.fileEncSha256) },
        fileLength: String(media.fileLength),
        height: 1280,
        width: 960,
        mediaKey: { type: 'Buffer', data: bytesOf(media.mediaKey) },
        mediaKeyTimestamp: '1718000000',
        jpegThumbnail: randomBytes(12).toString('base64'),
      };
      return { id, line: { key: { remoteJid: '5511999999999@s.whatsapp.net', fromMe: false, id }, message: { imageMessage }, messageTimestamp: 1718000000 } };
    },
  },
  {
    // A voice note in a disappearing-messages wrapper.
    contentType: 'ptt',
    extension: 'ogg',
    line: (media, i) => {
      const id = keyId(i);
      const audioMessage = {
        url: media.url,
        directPath: media.directPath,
        mimetype: 'audio/ogg; codecs=opus',
        fileSha256: media.fileSha256,
        fileEncSha256: media.fileEncSha256,
        fileLength: media.fileLength,
        seconds: 4,
        ptt: true,
        mediaKey: media.mediaKey,
      };
      return { id, line: { key: { remoteJid: '120363000000000000@g.us', fromMe: true, id }, message: { ephemeralMessage: { message: { audioMessage } } } } };
    },
  },
  {
    // An Evolution API messages.upsert webhook: Uint8Arrays as {"0":..}, fileLength as a Long.
    contentType: 'gif',
    extension: 'mp4',
    line: (media, i) => {
      const id = `EVO${i}`;
      const videoMessage = {
        url: media.url,
        directPath: media.directPath,
        mimetype: 'video/mp4',
        fileSha256: uint8Json(media.fileSha256),
        fileEncSha256: uint8Json(media.fileEncSha256),
        fileLength: { low: media.fileLength, high: 0, unsigned: true },
        gifPlayback: true,
        mediaKey: uint8Json(media.mediaKey),
      };
      return {
        id,
        line: {
          event: 'messages.upsert',
          instance: INSTANCE,
          data: { key: { remoteJid: '5511888888888@s.whatsapp.net', fromMe: false, id }, pushName: 'Ana', message: { videoMessage }, messageType: 'videoMessage' },
        },
      };
    },
  },
  {
    // A bare message, no key: the line number is the id. Only the directPath.
    contentType: 'sticker',
    extension: 'webp',
    line: (media) => ({
      id: undefined,
      line: { message: { stickerMessage: { directPath: media.directPath, mediaKey: media.mediaKey, mimetype: 'image/webp', fileLength: media.fileLength, isAnimated: false } } },
    }),
  },
];
