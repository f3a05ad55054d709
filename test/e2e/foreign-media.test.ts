/**
 * Media wamedia did not encrypt itself, through the whole service: the sample vectors in
 * test/fixtures/vectors (WhatsApp's own encryption) and media encrypted by Baileys 7.0.0-rc14
 * (an independent implementation, a test dependency only). The fake CDN otherwise serves what
 * the project's own encryptor writes, which would agree with any mistake the decryptor shares
 * with it (a wrong MAC length, a wrong HKDF info): these must come out byte-exact.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { encryptedStream, type MediaType } from 'baileys';
import { describe, expect, it } from 'vitest';
import type { ContentType } from '@wamedia/shared';
import { downloadBody } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes } from '../support/expectations.js';
import { readSample, samples } from '../support/media-fixtures.js';

const INSTANCE = 'instance-foreign';

const suite = useCdnStack({});

describe('the sample vectors (WhatsApp\'s own encryption)', () => {
  it.each(samples)('serves $name byte-exact, with and without the hashes to check', async (sample) => {
    const media = suite.cdn.publishEncrypted({
      plaintext: readSample(sample.name, 'original'),
      contentType: sample.contentType,
      enc: readSample(sample.name, 'encrypted'),
      mediaKey: readSample(sample.name, 'key'),
      fileSha256: sample.fileSha256,
      fileEncSha256: sample.fileEncSha256,
      fileLength: sample.fileLength,
    });
    expect(media.sha256).toBe(sample.fileSha256.toString('hex'));
    expectBytes(await suite.api.download(INSTANCE, downloadBody(media)), media.sha256, media.fileLength);
    // Again without the hashes: served from the cache, the same bytes.
    const bare = downloadBody(media, { omit: ['fileSha256', 'fileEncSha256', 'fileLength'] });
    expectBytes(await suite.api.download(INSTANCE, bare), media.sha256, media.fileLength);
    expect(suite.cdn.countMedia(media)).toBe(1);
  });
});

/** A .enc made by Baileys' own encryptor, and the fields its message would carry. */
async function encryptWithBaileys(plaintext: Buffer, contentType: ContentType & MediaType) {
  const made = await encryptedStream({ stream: Readable.from([plaintext]) }, contentType);
  try {
    const enc = await readFile(made.encFilePath);
    return { plaintext, contentType, enc, mediaKey: made.mediaKey, fileSha256: made.fileSha256, fileEncSha256: made.fileEncSha256, fileLength: made.fileLength };
  } finally {
    await rm(made.encFilePath, { force: true });
    if (made.originalFilePath) await rm(made.originalFilePath, { force: true });
  }
}

describe('media encrypted by Baileys 7.0.0-rc14', () => {
  const cases: [ContentType & MediaType, number][] = [
    ['image', 54_211],
    ['video', 300_001],
    ['audio', 16],
    ['document', 0],
    ['sticker', 4_095],
    ['ptv', 65_537],
  ];

  it.each(cases)('serves a %s of %i bytes byte-exact', async (contentType, size) => {
    const media = suite.cdn.publishEncrypted(await encryptWithBaileys(randomBytes(size), contentType));
    expectBytes(await suite.api.download(INSTANCE, downloadBody(media)), media.sha256, size);
    expect(suite.cdn.countMedia(media)).toBe(1);
  });
});
