/**
 * Big encrypted media on disk, made by the project's own EncryptStream from random data without
 * holding the file in memory, with the message fields a request for it carries.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEncryptStream, type ContentType } from '@wamedia/shared';
import type { FileCdn } from './file-cdn.js';

/** An .enc file and the fields of the message that points at it. */
export interface EncFile {
  file: string;
  contentType: ContentType;
  /** Plaintext bytes. */
  fileLength: number;
  /** base64, as in a message. */
  mediaKey: string;
  /** base64. */
  fileSha256: string;
  /** base64. */
  fileEncSha256: string;
  /** SHA-256 of the plaintext in hex: wamedia's ETag (quoted). */
  sha256: string;
}

const CHUNK = 64 * 1024;
/** Random bytes the plaintext is cut from; 8 MiB so the file does not repeat every few chunks. */
const POOL_BYTES = 8 * 1024 * 1024;

/** Encrypts `bytes` of random plaintext into `file`. */
export async function writeEncFile(file: string, bytes: number, contentType: ContentType): Promise<EncFile> {
  const pool = randomBytes(POOL_BYTES);
  let offset = 0;
  const source = new Readable({
    read() {
      if (offset >= bytes) return void this.push(null);
      const size = Math.min(CHUNK, bytes - offset);
      const start = offset % (POOL_BYTES - CHUNK);
      offset += size;
      this.push(pool.subarray(start, start + size));
    },
  });
  const encryptor = createEncryptStream({ contentType });
  await pipeline(source, encryptor, createWriteStream(file));
  const result = encryptor.result!;
  return {
    file,
    contentType,
    fileLength: result.fileLength,
    mediaKey: result.mediaKey.toString('base64'),
    fileSha256: result.fileSha256.toString('base64'),
    fileEncSha256: result.fileEncSha256.toString('base64'),
    sha256: result.fileSha256.toString('hex'),
  };
}

/** Where an .enc is published on a FileCdn: a directPath and a full url, as a message has both. */
export interface PublishedEncFile extends EncFile {
  directPath: string;
  url: string;
}

/** Serves `enc` on `cdn` at a directPath and a url path of its own. */
export function publishEncFile(cdn: FileCdn, enc: EncFile, name: string, holdMs = 0): PublishedEncFile {
  const directPath = `/v/t62.7161-24/${name}.enc`;
  const urlPath = `/o1/v/t62.7161-24/${name}.enc`;
  cdn.serveFile(directPath, enc.file, holdMs);
  cdn.serveFile(urlPath, enc.file, holdMs);
  return { ...enc, directPath, url: `${cdn.origin}${urlPath}` };
}

