import type { Readable } from 'node:stream';
import type { BlobStore, ByteRange, LinkTarget } from '@wamedia/server';
import { mediaFileName, type ContentType } from '@wamedia/shared';

/** What is known of a verified, stored media: enough to describe it to a client. */
export interface MediaFile {
  /** The plaintext SHA-256 (hex): its address in the store. */
  sha256: string;
  /** Size in bytes. */
  size: number;
  mimetype: string;
  contentType: ContentType;
}

/**
 * A verified media in the store, ready to be served: streamed, linked to, or sent as base64,
 * under its mimetype and file name.
 */
export interface ReadyMedia extends LinkTarget {
  /**
   * Streams the media, or the inclusive `range` of it (already checked against `size`).
   * Rejects (storage down) before any byte is produced.
   */
  open(range?: ByteRange): Promise<Readable>;
}

/** `file` as ReadyMedia, read from `store`: the routes serve it without knowing the store. */
export function readyMedia(store: BlobStore, file: MediaFile): ReadyMedia {
  const { sha256, size, mimetype, contentType } = file;
  return storedMedia(store, { sha256, size, mimetype, fileName: mediaFileName(contentType, sha256, mimetype) });
}

/** A stored media named and typed as given (a signed link says both), read from `store`. */
export function storedMedia(store: BlobStore, media: LinkTarget): ReadyMedia {
  return { ...media, open: (range) => store.read(media.sha256, range ?? wholeOf(media.size)) };
}

/**
 * The whole media as a range: a reader told where the bytes end reads exactly that many and
 * stops, where an open-ended one reads a full chunk buffer, copies a short last read out of it
 * and asks once more only to learn it is at the end. Undefined for an empty media (no range).
 */
function wholeOf(size: number): ByteRange | undefined {
  return size > 0 ? { start: 0, end: size - 1 } : undefined;
}
