import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidFieldError } from '../errors.js';
import { createDecryptStream, decryptMedia } from './decrypt-stream.js';
import { createEncryptStream, encryptMedia } from './encrypt-stream.js';
import { contentTypes } from './media-types.js';
import {
  edgeSizes,
  pipeChunks,
  readSample,
  samples,
  seededRandom,
  splitAt,
  splitEvery,
  tinyMediaKey,
  tinyVectors,
} from '../../../../test/support/media-fixtures.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

describe('EncryptStream', () => {
  it.each(tinyVectors)('reproduces the tiny $contentType vector byte for byte', async ({ contentType, plaintext, enc }) => {
    expect(encryptMedia(plaintext, { contentType, mediaKey: tinyMediaKey }).enc.toString('hex')).toBe(enc.toString('hex'));
    const stream = createEncryptStream({ contentType, mediaKey: tinyMediaKey });
    expect((await pipeChunks(splitEvery(plaintext, 1), stream)).toString('hex')).toBe(enc.toString('hex'));
  });

  describe.each(edgeSizes)('with %i plaintext bytes', (size) => {
    const plaintext = randomBytes(size);
    const mediaKey = randomBytes(32);
    // Encrypted by the first test that needs it, not as the file is collected: an encryptor that
    // throws then fails tests (pnpm test:mutation counts a file that fails to collect as passing).
    let encrypted: ReturnType<typeof encryptMedia> | undefined;
    const reference = () => (encrypted ??= encryptMedia(plaintext, { contentType: 'video', mediaKey }));
    const random = seededRandom(size);

    it('always pads, then appends a 10-byte MAC', () => {
      expect(reference().enc.length).toBe((Math.floor(size / 16) + 1) * 16 + 10);
    });

    it('reports the fields a message carries', () => {
      expect(reference()).toMatchObject({
        mediaKey,
        fileSha256: sha256(plaintext),
        fileEncSha256: sha256(reference().enc),
        fileLength: size,
      });
      expect(decryptMedia(reference().enc, { contentType: 'video', ...reference() }).plaintext.equals(plaintext)).toBe(true);
    });

    it.each<[string, number[]]>([
      ['whole', []],
      ['split inside a block and at block edges', [5, 16, 32, size - 16, size - 1]],
      ['split at random', Array.from({ length: 10 }, () => Math.floor(random() * size))],
    ])('streams the same bytes when fed %s', async (_name, cuts) => {
      const stream = createEncryptStream({ contentType: 'video', mediaKey });
      const enc = await pipeChunks(splitAt(plaintext, cuts), stream);
      expect(enc.equals(reference().enc)).toBe(true);
      expect(stream.result).toEqual({
        mediaKey,
        fileSha256: reference().fileSha256,
        fileEncSha256: reference().fileEncSha256,
        fileLength: size,
      });
    });
  });

  it('draws a fresh random mediaKey when none is given', async () => {
    const first = createEncryptStream({ contentType: 'image' });
    const second = createEncryptStream({ contentType: 'image' });
    expect(first.mediaKey).toHaveLength(32);
    expect(first.mediaKey.equals(second.mediaKey)).toBe(false);
    const enc = await pipeChunks([Buffer.from('hello')], first);
    expect(first.result?.mediaKey).toBe(first.mediaKey);
    expect(decryptMedia(enc, { contentType: 'image', mediaKey: first.mediaKey }).plaintext.toString()).toBe('hello');
  });

  it('refuses a mediaKey that is not 32 bytes', () => {
    expect(() => createEncryptStream({ contentType: 'image', mediaKey: new Uint8Array(33) })).toThrow(InvalidFieldError);
  });

  it('is undone by DecryptStream for any bytes, chunking and contentType', async () => {
    const input = fc.record({
      plaintext: fc.uint8Array({ maxLength: 300 }),
      cuts: fc.array(fc.nat({ max: 400 }), { maxLength: 8 }),
      encCuts: fc.array(fc.nat({ max: 400 }), { maxLength: 8 }),
      contentType: fc.constantFrom(...contentTypes),
    });
    await fc.assert(
      fc.asyncProperty(input, async ({ plaintext, cuts, encCuts, contentType }) => {
        const encryptor = createEncryptStream({ contentType });
        const enc = await pipeChunks(splitAt(Buffer.from(plaintext), cuts), encryptor);
        const decryptor = createDecryptStream({ contentType, ...encryptor.result! });
        const decrypted = await pipeChunks(splitAt(enc, encCuts), decryptor);
        expect(decrypted).toEqual(Buffer.from(plaintext));
        expect(decryptor.result?.sha256).toEqual(encryptor.result?.fileSha256);
      }),
      { numRuns: 200 },
    );
  });
});

describe('EncryptStream on the sample files in test/fixtures/vectors', () => {
  it.each(samples)('reproduces $name.encrypted byte for byte', async (sample) => {
    const mediaKey = readSample(sample.name, 'key');
    const original = readSample(sample.name, 'original');
    const stream = createEncryptStream({ contentType: sample.contentType, mediaKey });
    const enc = await pipeChunks(splitEvery(original, 65536), stream);
    expect(enc.equals(readSample(sample.name, 'encrypted'))).toBe(true);
    expect(stream.result).toEqual({
      mediaKey,
      fileSha256: sample.fileSha256,
      fileEncSha256: sample.fileEncSha256,
      fileLength: sample.fileLength,
    });
  });
});
