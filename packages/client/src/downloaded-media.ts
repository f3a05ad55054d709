import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { extensionFor } from '@wamedia/shared';
import { WamediaApiError } from './wamedia-api-error.js';

/** A media file as the API serves it: the bytes still streaming, and what the headers say. */
export interface DownloadedMedia {
  /** The bytes; read them to the end, or destroy the stream to let the connection go. */
  body: Readable;
  /** SHA-256 of the file, hex, from the ETag: what the body must hash to. */
  sha256: string;
  /** Length of the body in bytes (Content-Length). */
  size: number;
  /** The Content-Type, e.g. "audio/ogg; codecs=opus". */
  mimetype: string;
  /**
   * The Content-Disposition filename, e.g. "image-0a1b2c3d4e5f6071.jpg", when it is one plain
   * name (A-Z a-z 0-9 . _ -, not starting with "."); else one made from the sha256. Still a
   * name from the server: never join it to a folder without checking the result stays inside.
   */
  filename: string;
}

/** A single path component with nothing a file system reads as a path, a hidden file or a device. */
const PLAIN_FILENAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/;

const sha256Etag = /^(?:W\/)?"([0-9a-f]{64})"$/;

/** Reads a 200 media answer; throws WamediaApiError when a header the contract promises is missing. */
export function toDownloadedMedia(response: Response): DownloadedMedia {
  const sha256 = sha256Etag.exec(response.headers.get('etag') ?? '')?.[1];
  const length = response.headers.get('content-length');
  const size = length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
  if (sha256 === undefined || size === undefined) {
    void response.body?.cancel();
    const missing = sha256 === undefined ? 'an ETag holding a SHA-256' : 'a Content-Length';
    throw WamediaApiError.unexpected(response, `the media answer has no ${missing}`);
  }
  const mimetype = response.headers.get('content-type') ?? 'application/octet-stream';
  return {
    body: response.body ? Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>) : Readable.from([]),
    sha256,
    size,
    mimetype,
    filename: plainFilename(dispositionFilename(response.headers.get('content-disposition'))) ?? `${sha256.slice(0, 16)}.${extensionFor(mimetype)}`,
  };
}

function plainFilename(name: string | undefined): string | undefined {
  return name !== undefined && PLAIN_FILENAME.test(name) ? name : undefined;
}

/** The filename of a Content-Disposition header (RFC 6266): `filename*` first, then `filename`. */
export function dispositionFilename(header: string | null): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*[\w-]+'[^']*'([^;\s]+)/i.exec(header)?.[1];
  if (extended) {
    try {
      return decodeURIComponent(extended);
    } catch {
      // A malformed percent-encoding: fall back to the plain parameter.
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(header);
  if (!plain) return undefined;
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2];
}
