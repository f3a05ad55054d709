import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EncSha256MismatchError, LengthMismatchError, Sha256MismatchError } from '../errors.js';
import { createPlainVerifyStream, type PlainVerifyOptions } from './plain-verify-stream.js';
import { edgeSizes, pipeChunks, seededRandom, splitAt, splitEvery } from '../../../../test/support/media-fixtures.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

async function verifyChunks(chunks: Buffer[], options: PlainVerifyOptions) {
  const stream = createPlainVerifyStream(options);
  const output = await pipeChunks(chunks, stream);
  return { output, result: stream.result };
}

describe('PlainVerifyStream', () => {
  it.each(edgeSizes)('passes %i bytes through unchanged, in any chunking, and reports their digest', async (size) => {
    const file = randomBytes(size);
    const random = seededRandom(size);
    const chunkings = [[file], splitEvery(file, 65536), splitAt(file, Array.from({ length: 8 }, () => Math.floor(random() * size)))];
    for (const chunks of chunkings) {
      const { output, result } = await verifyChunks(chunks, { fileSha256: sha256(file), fileEncSha256: sha256(file), fileLength: size });
      expect(output.equals(file)).toBe(true);
      expect(result).toEqual({ sha256: sha256(file), encSha256: sha256(file), length: size, encLength: size });
    }
  });

  it('fails a file whose SHA-256 is not fileSha256, naming the downloaded file, and sets no result', async () => {
    const file = randomBytes(1000);
    const stream = createPlainVerifyStream({ fileSha256: sha256(randomBytes(10)) });
    const error = await pipeChunks([file], stream).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Sha256MismatchError);
    expect((error as Error).message).toBe('integrity check failed: SHA-256 of the downloaded file does not match fileSha256');
    expect(stream.result).toBeUndefined();
  });

  it('checks only fileSha256 when that is all it is given', async () => {
    const file = randomBytes(1000);
    const { output, result } = await verifyChunks([file], { fileSha256: sha256(file) });
    expect(output.equals(file)).toBe(true);
    expect(result).toEqual({ sha256: sha256(file), encSha256: sha256(file), length: 1000, encLength: 1000 });
  });

  it('fails a file of another length than fileLength', async () => {
    const file = randomBytes(1000);
    const error = await verifyChunks([file], { fileSha256: sha256(file), fileLength: 999 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LengthMismatchError);
    expect((error as Error).message).toBe('integrity check failed: downloaded length 1000 does not match fileLength 999');
  });

  it('checks fileEncSha256, when given, against the download, first: the download is the file', async () => {
    const file = randomBytes(100);
    const error = await verifyChunks([file], { fileSha256: sha256(randomBytes(1)), fileEncSha256: sha256(randomBytes(2)) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EncSha256MismatchError);
  });
});
