/**
 * `wamedia download` end to end: the CLI as a real process against a whole stack (the API, a
 * worker, Redis, a folder store) and the fake CDN, in each response mode: the verified file into
 * a folder or a path, a link that a plain client fetches, base64 checked against its SHA-256.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mediaFileName, type MediaBase64, type MediaLink } from '@wamedia/shared';
import { downloadBody } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { runCli } from '../support/cli-process.js';
import type { PublishedMedia } from '../support/fake-cdn.js';

const INSTANCE = 'instance-cli-download';
const BASE64_MAX_BYTES = 50_000;

describe('wamedia download against the service', () => {
  const suite = useCdnStack({ env: { BASE64_MAX_BYTES: String(BASE64_MAX_BYTES) } });
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wamedia-cli-download-'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Writes `reference` to a file of its own and runs `wamedia download <file> <args>`. */
  async function download(reference: unknown, ...args: string[]) {
    const file = path.join(dir, `${randomBytes(4).toString('hex')}.json`);
    await writeFile(file, JSON.stringify(reference));
    const env = { ...process.env, WAMEDIA_URL: suite.stack.baseUrl, WAMEDIA_TOKEN: suite.stack.token(INSTANCE) };
    return runCli(['download', file, ...args], { env });
  }

  const publish = (size: number): PublishedMedia => suite.cdn.publish(randomBytes(size), 'image');

  it('saves the verified file into a folder under the name the API gives it, and says where', async () => {
    const media = publish(30_000);
    const run = await download(downloadBody(media), '--out', dir);
    expect(run.code, run.stderr).toBe(0);
    const target = path.join(dir, mediaFileName('image', media.sha256, 'image/jpeg'));
    expect(JSON.parse(run.stdout.toString())).toEqual({ path: target, sha256: media.sha256, size: media.fileLength, mimetype: 'image/jpeg' });
    expect((await readFile(target)).equals(media.plaintext)).toBe(true);
  });

  it('prints a link that a client without a token fetches, for --ttl seconds', async () => {
    const media = publish(8_000);
    const run = await download(downloadBody(media), '--response', 'url', '--ttl', '120');
    expect(run.code, run.stderr).toBe(0);
    const link = JSON.parse(run.stdout.toString()) as MediaLink;
    expect(link).toMatchObject({ sha256: media.sha256, size: media.fileLength, mimetype: 'image/jpeg' });
    expect(Date.parse(link.expiresAt) - Date.now()).toBeLessThanOrEqual(120_000);
    const response = await fetch(link.url);
    expect(Buffer.from(await response.arrayBuffer()).equals(media.plaintext)).toBe(true);
  });

  it('prints base64, and reads a WhatsApp message from stdin', async () => {
    const media = publish(6_000);
    const message = { key: { id: '3EB0ABC' }, message: { imageMessage: { ...downloadBody(media).content, mimetype: 'image/png' } } };
    const env = { ...process.env, WAMEDIA_URL: suite.stack.baseUrl, WAMEDIA_TOKEN: suite.stack.token(INSTANCE) };
    const run = await runCli(['download', '-', '--response', 'base64'], { env, stdin: Buffer.from(JSON.stringify(message)) });
    expect(run.code, run.stderr).toBe(0);
    const answer = JSON.parse(run.stdout.toString()) as MediaBase64;
    expect(answer).toMatchObject({ mimetype: 'image/png', sha256: media.sha256, size: media.fileLength });
    expect(Buffer.from(answer.base64, 'base64').equals(media.plaintext)).toBe(true);
  });

  it('fails with one line naming the 413 of a media too large for base64', async () => {
    const media = publish(BASE64_MAX_BYTES + 1);
    const run = await download(downloadBody(media), '--response', 'base64');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^wamedia download: 413 Payload Too Large: .*BASE64_MAX_BYTES.*response=url.*\n$/);
    expect(run.stdout.length).toBe(0);
  });

  it('fails on a reference that names no media, before any request', async () => {
    const before = suite.cdn.count();
    const run = await download({ contentType: 'image', content: { directPath: '/x' } }, '--response', 'url');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/the reference is not usable: content.mediaKey: is required/);
    expect(suite.cdn.count()).toBe(before);
  });
});
