import { randomUUID } from 'node:crypto';
import { createWriteStream, open as openFd } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { StorageUnavailableError } from '@wamedia/shared';
import type { BlobInfo, BlobStore, ByteRange, TempBlob } from './blob-store.js';
import { OpenBlobs } from './open-blobs.js';
import { assertRecordName, assertSha256, assertTempKey } from './store-names.js';

const openFdAsync = promisify(openFd);

/** How much a temporary file's stream buffers before it makes the source wait. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

/** Bytes per read when a blob is streamed out. */
const READ_CHUNK_BYTES = 256 * 1024;

/**
 * A BlobStore in a local folder: blobs at `sha256/<hex[0:2]>/<hex>`, temporaries at
 * `tmp/<uuid>`, records at `records/<name>`. Everything sits on one file system, so publishing
 * is a link or a rename, never a copy. Sub-folders are created on first use.
 */
export class FsBlobStore implements BlobStore {
  private readonly tmpDir: string;
  private readonly blobDir: string;
  private readonly recordDir: string;
  private readonly openBlobs = new OpenBlobs();

  /** @param dir the store's folder; relative paths resolve against the working directory. */
  constructor(dir: string) {
    const root = resolve(dir);
    this.tmpDir = join(root, 'tmp');
    this.blobDir = join(root, 'sha256');
    this.recordDir = join(root, 'records');
  }

  async writeTemp(source: Readable): Promise<TempBlob> {
    const key = randomUUID();
    const path = join(this.tmpDir, key);
    try {
      return { key, size: await copyIntoNewFile(source, path) };
    } catch (error) {
      // Best effort: removeStaleTemps collects what a failing disk leaves behind.
      await rm(path, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async commit(temp: TempBlob, sha256: string): Promise<void> {
    const from = this.tempPath(temp);
    const to = this.blobPath(sha256);
    try {
      // A hard link publishes the complete file in one step and fails when the address is
      // taken, so concurrent commits of the same bytes neither overwrite nor expose a partial blob.
      await withParentDir(to, () => link(from, to));
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw unavailable('publish a blob', error);
    }
    await this.discard(temp);
  }

  async discard(temp: TempBlob): Promise<void> {
    const path = this.tempPath(temp);
    await guard('remove a temporary file', () => rm(path, { force: true }));
  }

  async stat(sha256: string): Promise<BlobInfo | undefined> {
    const path = this.blobPath(sha256);
    const size = await unlessMissing('stat a blob', () => this.openBlobs.size(path));
    return size === undefined ? undefined : { size };
  }

  async read(sha256: string, range?: ByteRange): Promise<Readable> {
    const path = this.blobPath(sha256);
    // Larger reads than the default 64 KiB mean fewer trips to the thread pool for the same bytes.
    const options = { start: range?.start, end: range?.end, highWaterMark: READ_CHUNK_BYTES };
    return guard('open a blob', () => this.openBlobs.stream(path, options));
  }

  async putRecord(name: string, body: string): Promise<void> {
    assertRecordName(name);
    const final = join(this.recordDir, name);
    const temp = join(this.tmpDir, randomUUID());
    try {
      // Not synced (an fsync costs a small write some 2 ms here): records are the index, which a
      // crash may cost a download but never a wrong answer. A record cut short reads as a miss
      // (see MediaIndex), and its media is downloaded and recorded again.
      await withParentDir(temp, () => writeFile(temp, body, { flag: 'wx' }));
      // rename replaces in one step: a reader sees the old record or the new one, never half of one.
      await withParentDir(final, () => rename(temp, final));
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw unavailable('write a record', error);
    }
  }

  async getRecord(name: string): Promise<string | undefined> {
    assertRecordName(name);
    const path = join(this.recordDir, name);
    return unlessMissing('read a record', () => readFile(path, 'utf8'));
  }

  async ping(): Promise<void> {
    // Writing a probe proves more than access(W_OK), which says yes to root on a read-only mount.
    const probe = join(this.tmpDir, `${randomUUID()}.ping`);
    await guard('write to the storage folder', async () => {
      await mkdir(this.tmpDir, { recursive: true });
      await writeFile(probe, '');
      await rm(probe);
    });
  }

  /**
   * Removes temporaries last written more than `olderThanMs` ago: what a killed process left.
   * A write in progress keeps touching its file, so choose an age well above any stall of a
   * download.
   *
   * @returns how many temporaries were removed.
   */
  async removeStaleTemps(olderThanMs: number): Promise<number> {
    const cutoffMs = Date.now() - olderThanMs;
    const names = (await unlessMissing('list temporary files', () => readdir(this.tmpDir))) ?? [];
    let removed = 0;
    for (const name of names) {
      if (await removeIfOlder(join(this.tmpDir, name), cutoffMs)) removed += 1;
    }
    return removed;
  }

  async close(): Promise<void> {
    this.openBlobs.closeAll();
  }

  private tempPath(temp: TempBlob): string {
    assertTempKey(temp.key);
    return join(this.tmpDir, temp.key);
  }

  private blobPath(sha256: string): string {
    assertSha256(sha256);
    // 256 shard folders keep any one folder small enough to list.
    return join(this.blobDir, sha256.slice(0, 2), sha256);
  }
}

/**
 * Copies `source` into a new file and returns its length. The file is written through a stream,
 * so reading the source and writing the disk overlap and chunks that pile up meanwhile go out in
 * one writev. Errors raised by the source come out of the loop header unchanged; the disk's are
 * reported by its stream and come out as StorageUnavailableError. (stream.pipeline cannot keep
 * them apart: it destroys each stream with the other's error.)
 *
 * The stream alone closes the file, also when it is destroyed (after its pending writes): a
 * second close here could close a descriptor number another file has been given since.
 */
async function copyIntoNewFile(source: Readable, path: string): Promise<number> {
  const fd = await guard('create a temporary file', () => withParentDir(path, () => openFdAsync(path, 'ax')));
  // `flush`: synced before it is closed. On disk before commit links it under its address: a
  // crash must not leave a short blob there.
  const disk = createWriteStream(path, { fd, flush: true, highWaterMark: WRITE_BUFFER_BYTES });
  let diskError: unknown;
  const diskFailed = new Promise<never>((_, reject) =>
    disk.once('error', (error) => {
      diskError = error;
      reject(unavailable('write a temporary file', error));
    }),
  );
  diskFailed.catch(() => undefined);
  const closed = new Promise<void>((resolve) => disk.once('close', () => resolve()));
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      if (!disk.write(chunk)) await Promise.race([new Promise<void>((resolve) => disk.once('drain', () => resolve())), diskFailed]);
    }
    disk.end();
    await Promise.race([closed, diskFailed]);
    return disk.bytesWritten;
  } catch (error) {
    disk.destroy();
    throw diskError === undefined ? error : unavailable('write a temporary file', diskError);
  }
}

/** Removes the file when it was last modified before `cutoffMs`; says whether it did. */
async function removeIfOlder(path: string, cutoffMs: number): Promise<boolean> {
  const info = await unlessMissing('stat a temporary file', () => stat(path));
  if (!info || info.mtimeMs >= cutoffMs) return false;
  await guard('remove a temporary file', () => rm(path, { force: true }));
  return true;
}

/** Runs `op`, creating `path`'s folder and trying once more when `op` finds it missing. */
async function withParentDir<T>(path: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
    await mkdir(dirname(path), { recursive: true });
    return op();
  }
}

/** Runs `op`, reporting any failure as StorageUnavailableError. */
async function guard<T>(action: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (error) {
    throw unavailable(action, error);
  }
}

/** Runs `op`; undefined when it finds no such file, StorageUnavailableError on any other failure. */
async function unlessMissing<T>(action: string, op: () => Promise<T>): Promise<T | undefined> {
  try {
    return await op();
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw unavailable(action, error);
  }
}

function unavailable(action: string, error: unknown): StorageUnavailableError {
  // Only the errno code reaches the message, which clients see: the path stays in the cause.
  const reason = errorCode(error) ?? 'unknown error';
  return new StorageUnavailableError(`storage unavailable: failed to ${action} (${reason})`, { cause: error });
}

function errorCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
