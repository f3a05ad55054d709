import { closeSync, createReadStream, fstatSync, open, read } from 'node:fs';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';

const openAsync = promisify(open);

/** How many blob files a process keeps open between requests, at most. */
export const MAX_OPEN_BLOBS = 256;

/** A blob file unused this long is closed (checked as often). */
export const IDLE_CLOSE_MS = 30_000;

interface OpenBlob {
  readonly fd: number;
  readonly size: number;
  /** Streams reading from `fd`, and size lookups in progress: `fd` stays open while any. */
  users: number;
  /** Out of the cache: `fd` closes when its last user is done. */
  retired: boolean;
  /** Date.now() of its last acquire. */
  usedAt: number;
}

export interface BlobStreamOptions {
  start?: number;
  end?: number;
  highWaterMark: number;
}

/**
 * Blob files kept open between requests: MAX_OPEN_BLOBS at most, the least recently used closed first.
 *
 * A cache hit on a folder store was a stat, an open, a read and a close, each a trip through
 * libuv's thread pool that costs the event loop far more than the read itself; with the file
 * already open it is one read. Blobs never change once published, so a descriptor reads the
 * same bytes as the path. A blob removed from the folder (by hand, by a clean-up) is noticed on
 * its next use: the link count of its inode is then 0. That fstat runs synchronously: the open
 * descriptor keeps the inode in memory, so the kernel answers without touching the disk.
 *
 * A removed file's disk space is freed only once its last descriptor is closed: files unused for
 * IDLE_CLOSE_MS are closed, so space removed by hand comes back within twice that.
 */
export class OpenBlobs {
  private readonly blobs = new Map<string, OpenBlob>();
  private readonly sweeper = setInterval(() => this.closeIdle(), IDLE_CLOSE_MS).unref();

  /** The size of the blob at `path`. @throws the file system's error (ENOENT when there is none). */
  async size(path: string): Promise<number> {
    const blob = await this.acquire(path);
    this.release(blob);
    return blob.size;
  }

  /**
   * Streams the blob at `path` (the inclusive range `start`..`end` of it) from its open descriptor,
   * which the stream gives back instead of closing.
   * @throws the file system's error (ENOENT when there is none).
   */
  async stream(path: string, options: BlobStreamOptions): Promise<Readable> {
    const blob = await this.acquire(path);
    // The stream's own close is its release: it runs once, after the last read, however it ends.
    const giveBack = (_fd: number, callback: (error: null) => void) => {
      this.release(blob);
      callback(null);
    };
    // Always a start: without one the stream reads at the descriptor's own offset, which every
    // stream of the blob would move.
    const { start = 0, end, highWaterMark } = options;
    try {
      return createReadStream(path, { fd: blob.fd, start, end, highWaterMark, fs: { read, close: giveBack } });
    } catch (error) {
      // A range the stream refuses: no stream, so no close to give the descriptor back.
      this.release(blob);
      throw error;
    }
  }

  /** Closes every descriptor no stream is reading from; the others close as their streams end. */
  closeAll(): void {
    clearInterval(this.sweeper);
    for (const [path, blob] of this.blobs) this.retire(path, blob);
  }

  /** Retires the blobs last used more than IDLE_CLOSE_MS ago: the least recently used come first. */
  private closeIdle(): void {
    const cutoff = Date.now() - IDLE_CLOSE_MS;
    for (const [path, blob] of this.blobs) {
      if (blob.usedAt > cutoff) return;
      this.retire(path, blob);
    }
  }

  /** The blob at `path` with a use counted: it stays open until release(). */
  private async acquire(path: string): Promise<OpenBlob> {
    const cached = this.blobs.get(path);
    if (cached && isLinked(cached.fd)) return this.use(path, cached);
    if (cached) this.retire(path, cached);
    const fd = await openAsync(path, 'r');
    const raced = this.blobs.get(path);
    if (raced) {
      // Another lookup opened it meanwhile: one descriptor per blob is enough.
      closeQuietly(fd);
      return this.use(path, raced);
    }
    const blob = this.use(path, { fd, size: fstatSync(fd).size, users: 0, retired: false, usedAt: 0 });
    if (this.blobs.size > MAX_OPEN_BLOBS) {
      const [oldestPath, oldest] = this.blobs.entries().next().value!;
      this.retire(oldestPath, oldest);
    }
    return blob;
  }

  /** Counts a use of `blob` and makes it the most recently used. */
  private use(path: string, blob: OpenBlob): OpenBlob {
    // Map keeps insertion order: re-inserted last, the first entry is always the one to retire.
    this.blobs.delete(path);
    this.blobs.set(path, blob);
    blob.users += 1;
    blob.usedAt = Date.now();
    return blob;
  }

  private release(blob: OpenBlob): void {
    blob.users -= 1;
    if (blob.retired && blob.users === 0) closeQuietly(blob.fd);
  }

  private retire(path: string, blob: OpenBlob): void {
    this.blobs.delete(path);
    blob.retired = true;
    if (blob.users === 0) closeQuietly(blob.fd);
  }
}

/** Whether the file open as `fd` still has a name in the folder. */
function isLinked(fd: number): boolean {
  return fstatSync(fd).nlink > 0;
}

/**
 * Closes a descriptor read from only: that never waits for the disk, so it runs synchronously
 * rather than as one more trip through the thread pool.
 */
function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Linux releases the descriptor even when close reports an error: nothing is left to do.
  }
}
