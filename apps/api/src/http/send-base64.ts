import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { Base64TooLargeError } from '@wamedia/shared';
import type { ReadyMedia } from '../services/ready-media.js';
import { Base64Encoder, base64Length } from './base64-encoder.js';

/**
 * Answers a stored media as `{"mimetype", "fileName", "size", "sha256", "base64"}`, streamed: the
 * JSON up to the base64 string, then the file through the encoder, then the end of the JSON.
 * Neither the file nor its text is ever held whole; Content-Length is known beforehand.
 * @throws Base64TooLargeError above `maxBytes` (BASE64_MAX_BYTES), before anything is read.
 */
export async function sendBase64(res: Response, media: ReadyMedia, maxBytes: number): Promise<void> {
  if (media.size > maxBytes) throw new Base64TooLargeError(media.size, maxBytes);
  const { mimetype, fileName, size, sha256 } = media;
  const head = `${JSON.stringify({ mimetype, fileName, size, sha256 }).slice(0, -1)},"base64":"`;
  const tail = '"}';
  const body = await media.open();
  res.status(200).set({
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(head) + base64Length(size) + tail.length),
  });
  try {
    await pipeline(body, new Base64Encoder(), framed(head, tail), res);
  } catch (error) {
    // The client went away: pipeline already destroyed every stream; nothing to answer.
    if (!res.destroyed) throw error;
  }
}

/** Passes a stream's chunks on between `head` and `tail`. */
function framed(head: string, tail: string) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer | string> {
    yield head;
    yield* source;
    yield tail;
  };
}
