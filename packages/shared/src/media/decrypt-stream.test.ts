import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BadPaddingError,
  EncSha256MismatchError,
  IntegrityError,
  InvalidFieldError,
  LengthMismatchError,
  MacMismatchError,
  MediaTooShortError,
  NotBlockAlignedError,
  Sha256MismatchError,
} from '../errors.js';
import { createDecryptStream, decryptMedia, type DecryptOptions } from './decrypt-stream.js';
import { encryptMedia } from './encrypt-stream.js';
import { expandMediaKey } from './media-keys.js';
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
  vectorsDir,
} from '../../../../test/support/media-fixtures.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

/** Streams `chunks` through a DecryptStream; resolves with the plaintext and the verified digest. */
async function decryptChunks(chunks: Buffer[], options: DecryptOptions) {
  const stream = createDecryptStream(options);
  const plaintext = await pipeChunks(chunks, stream);
  return { plaintext, result: stream.result };
}

/** Options that check everything, for a plaintext encrypted by {@link encryptMedia}. */
function encrypted(plaintext: Buffer, contentType: DecryptOptions['contentType'] = 'document') {
  const { enc, mediaKey, fileSha256, fileEncSha256, fileLength } = encryptMedia(plaintext, { contentType });
  return { enc, options: { contentType, mediaKey, fileSha256, fileEncSha256, fileLength } satisfies DecryptOptions };
}

/** Chunkings of an .enc whose edges fall where the decryptor's bookkeeping changes. */
function interestingChunkings(enc: Buffer): [string, Buffer[]][] {
  const macStart = enc.length - 10;
  const random = seededRandom(enc.length);
  const randomCuts = Array.from({ length: 12 }, () => Math.floor(random() * enc.length));
  const chunkings: [string, Buffer[]][] = [
    ['whole', [enc]],
    ['64 KiB pieces', splitEvery(enc, 65536)],
    ['cut inside the last block', splitAt(enc, [macStart - 7])],
    ['cut where the MAC starts', splitAt(enc, [macStart])],
    ['cut inside the MAC', splitAt(enc, [macStart + 3, macStart + 4, enc.length - 1])],
    ['last block, then MAC byte by byte', splitAt(enc, [macStart - 16, ...Array.from({ length: 10 }, (_, i) => macStart + i)])],
    ['random cuts', splitAt(enc, randomCuts)],
  ];
  // Tiny pieces of a big file would only slow the suite down: small files cover them.
  if (enc.length <= 70_000) chunkings.push(['pieces of 7 bytes', splitEvery(enc, 7)]);
  if (enc.length <= 4096) chunkings.push(['one byte at a time', splitEvery(enc, 1)]);
  return chunkings;
}

describe('DecryptStream on the sample files in test/fixtures/vectors', () => {
  it.each(samples)('decrypts and verifies $name read from disk', async (sample) => {
    const stream = createDecryptStream({ ...sample, mediaKey: readSample(sample.name, 'key') });
    const chunks: Buffer[] = [];
    for await (const chunk of createReadStream(path.join(vectorsDir, `${sample.name}.encrypted`)).pipe(stream)) {
      chunks.push(chunk as Buffer);
    }
    expect(Buffer.concat(chunks).equals(readSample(sample.name, 'original'))).toBe(true);
    expect(stream.result).toEqual({
      sha256: sample.fileSha256,
      encSha256: sample.fileEncSha256,
      length: sample.fileLength,
      encLength: readSample(sample.name, 'encrypted').length,
    });
  });

  it.each(samples)('decrypts $name in memory and in awkward chunks', async (sample) => {
    const options = { ...sample, mediaKey: readSample(sample.name, 'key') };
    const enc = readSample(sample.name, 'encrypted');
    const original = readSample(sample.name, 'original');
    expect(decryptMedia(enc, options).plaintext.equals(original)).toBe(true);
    expect((await decryptChunks(splitEvery(enc, 4093), options)).plaintext.equals(original)).toBe(true);
  });
});

describe('DecryptStream', () => {
  it.each(tinyVectors)('decrypts the tiny $contentType vector', async ({ contentType, plaintext, enc }) => {
    const options = { contentType, mediaKey: tinyMediaKey, fileSha256: sha256(plaintext), fileLength: plaintext.length };
    const { plaintext: decrypted, result } = await decryptChunks(splitEvery(enc, 1), options);
    expect(decrypted).toEqual(plaintext);
    expect(result).toEqual({ sha256: sha256(plaintext), encSha256: sha256(enc), length: plaintext.length, encLength: enc.length });
  });

  describe.each(edgeSizes)('round trip of %i plaintext bytes', (size) => {
    const plaintext = randomBytes(size);
    const { enc, options } = encrypted(plaintext);

    it.each(interestingChunkings(enc))('fed %s', async (_name, chunks) => {
      const { plaintext: decrypted, result } = await decryptChunks(chunks, options);
      expect(decrypted.equals(plaintext)).toBe(true);
      expect(result).toEqual({ sha256: options.fileSha256, encSha256: options.fileEncSha256, length: size, encLength: enc.length });
    });
  });

  it('emits plaintext before the input ends', async () => {
    const { enc, options } = encrypted(randomBytes(1 << 20));
    const stream = createDecryptStream(options);
    const firstPlaintext = new Promise<Buffer>((resolve) => stream.once('data', resolve));
    stream.write(enc.subarray(0, 65536));
    expect((await firstPlaintext).length).toBeGreaterThan(60000);
    expect(stream.result).toBeUndefined();
    stream.destroy();
  });

  it('needs no expectations to decrypt, and still measures', () => {
    const plaintext = randomBytes(100);
    const { enc, options } = encrypted(plaintext);
    const decrypted = decryptMedia(enc, { contentType: options.contentType, mediaKey: options.mediaKey });
    expect(decrypted).toEqual({ plaintext, sha256: options.fileSha256, encSha256: options.fileEncSha256, length: 100, encLength: enc.length });
  });

  it('decrypts with any contentType of the same key class', () => {
    const { enc, options } = encrypted(Buffer.from('a sticker'), 'image');
    expect(decryptMedia(enc, { ...options, contentType: 'sticker' }).plaintext.toString()).toBe('a sticker');
  });

  it('refuses a mediaKey that is not 32 bytes', () => {
    expect(() => createDecryptStream({ contentType: 'image', mediaKey: new Uint8Array(31) })).toThrow(InvalidFieldError);
  });
});

describe('DecryptStream integrity checks', () => {
  const plaintext = randomBytes(1000);
  const { enc, options } = encrypted(plaintext);

  /** Decrypts through the stream and in memory; both must fail with `expected`. */
  async function expectFailure(bytes: Buffer, decryptOptions: DecryptOptions, expected: new (...args: never[]) => Error) {
    const stream = createDecryptStream(decryptOptions);
    await expect(pipeChunks(splitEvery(bytes, 333), stream)).rejects.toBeInstanceOf(expected);
    expect(stream.result).toBeUndefined();
    expect(() => decryptMedia(bytes, decryptOptions)).toThrow(expected);
  }

  function flipped(bytes: Buffer, index: number): Buffer {
    const copy = Buffer.from(bytes);
    copy[index]! ^= 0x01;
    return copy;
  }

  it('rejects fewer than 26 bytes as too short', async () => {
    await expectFailure(enc.subarray(0, 25), options, MediaTooShortError);
    await expectFailure(Buffer.alloc(0), options, MediaTooShortError);
    await expectFailure(Buffer.alloc(10), options, MediaTooShortError);
  });

  it('rejects a ciphertext that is not a whole number of blocks', async () => {
    await expectFailure(Buffer.concat([Buffer.alloc(1), enc]), options, NotBlockAlignedError);
    await expectFailure(Buffer.alloc(27), { ...options, fileEncSha256: undefined }, NotBlockAlignedError);
  });

  it('rejects an .enc whose SHA-256 is not fileEncSha256, before checking the MAC', async () => {
    await expectFailure(enc, { ...options, fileEncSha256: sha256(plaintext) }, EncSha256MismatchError);
    await expectFailure(flipped(enc, enc.length - 1), options, EncSha256MismatchError);
  });

  it('rejects a bad MAC: corrupted ciphertext, corrupted MAC, wrong key, wrong key class', async () => {
    const unchecked = { ...options, fileEncSha256: undefined };
    await expectFailure(flipped(enc, 0), unchecked, MacMismatchError);
    await expectFailure(flipped(enc, enc.length - 1), unchecked, MacMismatchError);
    await expectFailure(enc, { ...unchecked, mediaKey: randomBytes(32) }, MacMismatchError);
    await expectFailure(enc, { ...unchecked, contentType: 'image' }, MacMismatchError);
  });

  it('rejects bad padding under a valid MAC', async () => {
    const mediaKey = randomBytes(32);
    const { iv, cipherKey, macKey } = expandMediaKey(mediaKey, 'document');
    // A last block ending in 0x00 is no PKCS#7 padding; only a holder of the keys can MAC it.
    const cipher = createCipheriv('aes-256-cbc', cipherKey, iv).setAutoPadding(false);
    const ciphertext = Buffer.concat([cipher.update(Buffer.alloc(32, 0)), cipher.final()]);
    const mac = createHmac('sha256', macKey).update(iv).update(ciphertext).digest().subarray(0, 10);
    const badlyPadded = Buffer.concat([ciphertext, mac]);
    await expectFailure(badlyPadded, { contentType: 'document', mediaKey }, BadPaddingError);
    expect(() => decryptMedia(badlyPadded, { contentType: 'document', mediaKey })).toThrow(
      expect.objectContaining({ cause: expect.any(Error) }),
    );
  });

  it('rejects a plaintext whose SHA-256 is not fileSha256, before checking the length', async () => {
    await expectFailure(enc, { ...options, fileSha256: options.fileEncSha256 }, Sha256MismatchError);
    await expectFailure(enc, { ...options, fileSha256: options.fileEncSha256, fileLength: 1 }, Sha256MismatchError);
  });

  it('rejects a plaintext whose length is not fileLength', async () => {
    await expectFailure(enc, { ...options, fileLength: plaintext.length + 1 }, LengthMismatchError);
    await expectFailure(enc, { ...options, fileLength: 0 }, LengthMismatchError);
  });

  it('catches any single corrupted byte, in any chunking', async () => {
    const corruption = fc.record({
      plaintext: fc.uint8Array({ maxLength: 100 }),
      position: fc.nat(),
      xor: fc.integer({ min: 1, max: 255 }),
      cuts: fc.array(fc.nat(), { maxLength: 6 }),
      checkEncSha256: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(corruption, async ({ plaintext, position, xor, cuts, checkEncSha256 }) => {
        const { enc, options } = encrypted(Buffer.from(plaintext));
        const corrupted = Buffer.from(enc);
        corrupted[position % enc.length]! ^= xor;
        const decryptOptions = checkEncSha256 ? options : { ...options, fileEncSha256: undefined };
        const chunks = splitAt(corrupted, cuts.map((cut) => cut % enc.length));
        await expect(decryptChunks(chunks, decryptOptions)).rejects.toBeInstanceOf(IntegrityError);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects any proper prefix of a valid .enc, in any chunking, whatever it is checked against', async () => {
    const truncation = fc.record({
      plaintext: fc.oneof(
        { weight: 4, arbitrary: fc.uint8Array({ maxLength: 100 }) },
        // Around the 64 KiB a stream chunk usually holds.
        { weight: 1, arbitrary: fc.integer({ min: 65_520, max: 65_560 }).map((n) => Uint8Array.from({ length: n }, (_, i) => i * 31)) },
      ),
      keep: fc.nat(),
      cuts: fc.array(fc.nat(), { maxLength: 6 }),
      // With no expectation at all, the MAC alone must catch it.
      checks: fc.constantFrom('all', 'none', 'fileEncSha256', 'fileSha256 and fileLength'),
    });
    await fc.assert(
      fc.asyncProperty(truncation, async ({ plaintext, keep, cuts, checks }) => {
        const { enc, options } = encrypted(Buffer.from(plaintext));
        const prefix = enc.subarray(0, keep % enc.length);
        const { contentType, mediaKey, fileSha256, fileEncSha256, fileLength } = options;
        const decryptOptions: DecryptOptions =
          checks === 'all' ? options
            : checks === 'none' ? { contentType, mediaKey }
              : checks === 'fileEncSha256' ? { contentType, mediaKey, fileEncSha256 }
                : { contentType, mediaKey, fileSha256, fileLength };
        const chunks = splitAt(prefix, cuts.map((cut) => cut % Math.max(prefix.length, 1)));
        const stream = createDecryptStream(decryptOptions);
        await expect(pipeChunks(chunks, stream)).rejects.toBeInstanceOf(IntegrityError);
        expect(stream.result).toBeUndefined();
        expect(() => decryptMedia(prefix, decryptOptions)).toThrow(IntegrityError);
      }),
      { numRuns: 200 },
    );
  });
});
