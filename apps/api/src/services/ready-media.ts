import type { Readable } from 'node:stream';
import type { BlobStore, ByteRange } from '@wamedia/server';
import type { ContentType } from '@wamedia/shared';

/** What is known of a verified, stored media: enough to describe it to a client. */
export interface MediaFile {
  /** The plaintext SHA-256 (hex): its address in the store. */
  sha256: string;
  /** Size in bytes. */
  size: number;
  mimetype: string;
  contentType: ContentType;
}

/** A verified media in the store, ready to be streamed. */
export interface ReadyMedia extends MediaFile {
  /**
   * Streams the media, or the inclusive `range` of it (already checked against `size`).
   * Rejects (storage down) before any byte is produced.
   */
  open(range?: ByteRange): Promise<Readable>;
}

/** `file` as ReadyMedia, read from `store`: the routes stream it without knowing the store. */
export function readyMedia(store: BlobStore, file: MediaFile): ReadyMedia {
  return { ...file, open: (range) => store.read(file.sha256, range) };
}
