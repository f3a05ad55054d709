import type { Readable } from 'node:stream';

/** An inclusive byte range, as HTTP Range gives it. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A stored object's metadata. */
export interface BlobInfo {
  /** Size in bytes. */
  size: number;
}

/** An object written but not yet published under a content address. */
export interface TempBlob {
  /** The store's own name for it; opaque to callers. */
  readonly key: string;
  /** Bytes written. */
  readonly size: number;
}

/**
 * Content-addressed storage of verified media, with a folder and an S3 implementation.
 *
 * Bytes become visible under their address only through `commit`, after the caller has
 * verified them; until then they live in a temporary object that `discard` removes.
 * Small named records (the media index) live beside the blobs so the cache survives Redis.
 */
export interface BlobStore {
  /**
   * Streams `source` into a new temporary object. If `source` fails (an integrity error,
   * a network error), whatever was written is removed and the source's error is rethrown.
   */
  writeTemp(source: Readable): Promise<TempBlob>;

  /**
   * Publishes a verified temporary object under its plaintext SHA-256 (hex), then removes the
   * temporary object. Create-if-absent: when the address already holds the object, nothing is
   * overwritten, so a rerun or a concurrent commit of the same bytes is harmless.
   */
  commit(temp: TempBlob, sha256: string): Promise<void>;

  /** Removes a temporary object; a missing one is not an error. */
  discard(temp: TempBlob): Promise<void>;

  /** The object's metadata, or undefined when the address holds nothing. */
  stat(sha256: string): Promise<BlobInfo | undefined>;

  /** Streams the object, or the inclusive `range` of it. The caller has checked it exists. */
  read(sha256: string, range?: ByteRange): Promise<Readable>;

  /** Writes a small named record (JSON text), replacing any previous one. */
  putRecord(name: string, body: string): Promise<void>;

  /** Reads a small named record, or undefined when there is none. */
  getRecord(name: string): Promise<string | undefined>;

  /** Resolves when the store answers; rejects with StorageUnavailableError otherwise. */
  ping(): Promise<void>;

  /**
   * Removes temporary objects older than `olderThanMs` (left by a killed process); resolves
   * with how many were removed.
   */
  removeStaleTemps(olderThanMs: number): Promise<number>;

  /** Releases connections; the store is not used afterwards. */
  close(): Promise<void>;
}
