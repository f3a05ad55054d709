/**
 * Fixtures shared by the media tests: the tiny vectors and the sample files described in
 * docs/media-format.md (the files are in test/fixtures/vectors), and helpers to push bytes
 * through a stream in chosen chunks. Test code only: no package imports it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { ContentType } from '@wamedia/shared';

/** The public sample set (see its README.md), part of the repository. */
export const vectorsDir = fileURLToPath(new URL('../fixtures/vectors/', import.meta.url));

/** mediaKey = bytes 0x00..0x1f, the key of the tiny vectors. */
export const tinyMediaKey = Buffer.from(Array.from({ length: 32 }, (_, i) => i));

/** The tiny vectors of docs/media-format.md: short plaintexts and their .enc under tinyMediaKey. */
export const tinyVectors: { contentType: ContentType; plaintext: Buffer; enc: Buffer }[] = [
  {
    contentType: 'document',
    plaintext: Buffer.from('Hello, WhatsApp!'),
    enc: Buffer.from('232e50d9f6a3a44a3afa67ac7b17a52d375d829ff8b737965a91db06b4079bfd710bc74ba1de7ff089e5', 'hex'),
  },
  {
    contentType: 'image',
    plaintext: Buffer.alloc(0),
    enc: Buffer.from('d86dbcfed371684274c26215fc53dc72cb480389e6f95d2b38d9', 'hex'),
  },
  {
    contentType: 'audio',
    plaintext: Buffer.from('abc'),
    enc: Buffer.from('8b3f82d54b4ff536901f7e20a308f32ea0a473c834f959865a6a', 'hex'),
  },
];

/** One sample of test/fixtures/vectors with the values its README lists. */
export interface Sample {
  name: string;
  contentType: ContentType;
  fileLength: number;
  fileSha256: Buffer;
  fileEncSha256: Buffer;
}

export const samples: Sample[] = [
  {
    name: 'AUDIO',
    contentType: 'audio',
    fileLength: 16111,
    fileSha256: Buffer.from('5a6d746212c8780ec994a15f95bfddb5bfe5fa9f6a12911d765a85c47ce33b44', 'hex'),
    fileEncSha256: Buffer.from('4dfd169e98c642bf557048e8a442cccd188e04d06a4410d7778449b5e2cddb82', 'hex'),
  },
  {
    name: 'IMAGE',
    contentType: 'image',
    fileLength: 54211,
    fileSha256: Buffer.from('4e5deb687131f0e01cd31d10ab3b1e4448fbac1a263626544978c2453f92cc00', 'hex'),
    fileEncSha256: Buffer.from('e56c3b1d443e20e1bd5fe27a49ec1749216b039c559d725e5993ce065920f485', 'hex'),
  },
  {
    name: 'VIDEO',
    contentType: 'video',
    fileLength: 393736,
    fileSha256: Buffer.from('a86a684873a43b5b944b2c5bed2e153e1e94dddb78e72083367776339ef56a57', 'hex'),
    fileEncSha256: Buffer.from('ae496487700c947d0010a096175a1cb49a3854786abf7fba49a8da4b2df205a8', 'hex'),
  },
];

/** Reads `<name>.key`, `.original` or `.encrypted` of a sample. */
export function readSample(name: string, extension: 'key' | 'original' | 'encrypted'): Buffer {
  return readFileSync(path.join(vectorsDir, `${name}.${extension}`));
}

/** The plaintext sizes where block, padding and 64 KiB chunk edges fall. */
export const edgeSizes = [0, 1, 15, 16, 17, 65535, 65536, 65537, 3 * 1024 * 1024 + 7];

/** Splits `bytes` at the given offsets (unsorted, out of range and repeated ones allowed). */
export function splitAt(bytes: Buffer, offsets: number[]): Buffer[] {
  const cuts = [...new Set(offsets.filter((o) => o > 0 && o < bytes.length))].sort((a, b) => a - b);
  const edges = [0, ...cuts, bytes.length];
  return edges.slice(1).map((end, i) => bytes.subarray(edges[i], end));
}

/** Splits `bytes` into pieces of `size` bytes (the last one shorter). */
export function splitEvery(bytes: Buffer, size: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += size) pieces.push(bytes.subarray(start, start + size));
  return pieces;
}

/** A small deterministic PRNG (mulberry32), so "random" chunkings are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Writes `chunks` through `transform` in a real pipeline and returns everything it emitted. */
export async function pipeChunks(chunks: Buffer[], transform: Transform): Promise<Buffer> {
  const output: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      output.push(chunk);
      callback();
    },
  });
  await pipeline(Readable.from(chunks), transform, sink);
  return Buffer.concat(output);
}
