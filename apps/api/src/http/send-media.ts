import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { attachmentDisposition, type ByteRange } from '@wamedia/server';
import { RangeNotSatisfiableError } from '@wamedia/shared';
import type { ReadyMedia } from '../services/ready-media.js';
import { byteCap } from './byte-cap.js';

/**
 * Streams a stored media to the client with its caching and range headers:
 * ETag from the sha256, If-None-Match → 304, one Range → 206, an unsatisfiable one → 416.
 * A client that goes away mid-stream destroys the media's read stream with it.
 */
export async function sendMedia(req: Request, res: Response, media: ReadyMedia): Promise<void> {
  const etag = `"${media.sha256}"`;
  if (matchesEtag(req.get('if-none-match'), etag)) {
    res.status(304).set({ ETag: etag, 'Accept-Ranges': 'bytes' }).end();
    return;
  }
  const range = requestedRange(req, media.size);
  const length = range ? range.end - range.start + 1 : media.size;
  // Headers first, the store's stream after: a header Node refuses then leaves no file open.
  // An error answered after them goes out without them (the error handler drops them).
  res.set({
    'Content-Disposition': attachmentDisposition(media.fileName),
    'Content-Type': media.mimetype,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Content-Length': String(length),
  });
  const body = await media.open(range);
  res.status(range ? 206 : 200);
  if (range) res.set('Content-Range', `bytes ${range.start}-${range.end}/${media.size}`);
  try {
    await pipeline(body, byteCap(length), res);
  } catch (error) {
    // The client went away: pipeline already destroyed both streams; nothing to answer.
    if (!res.destroyed) throw error;
  }
}

/** If-None-Match holds our ETag (or `*`); weak validators compare equal, as RFC 9110 asks for GET. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const candidate = tag.trim().replace(/^W\//, '');
    return candidate === '*' || candidate === etag;
  });
}

/** The single range asked for, if any. Several ranges, or a malformed header, get the whole file. */
function requestedRange(req: Request, size: number): ByteRange | undefined {
  if (!req.get('range')) return undefined;
  const ranges = req.range(size, { combine: true });
  if (ranges === -1) {
    req.res!.set('Content-Range', `bytes */${size}`);
    throw new RangeNotSatisfiableError(size);
  }
  if (ranges === -2 || ranges === undefined || ranges.type !== 'bytes' || ranges.length !== 1) return undefined;
  return ranges[0];
}
