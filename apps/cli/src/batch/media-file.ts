import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DownloadedMedia } from '@wamedia/client';

/** The bytes received are not the file the API announced (ETag, Content-Length). */
export class MediaMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MediaMismatchError';
  }
}

/** Temporary files being written right now, for a process that must exit at once. */
const writing = new Set<string>();

const temporaryName = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * Streams a downloaded media into `target`, checking its SHA-256 and length against what the
 * API announced. The bytes go to a temporary file beside the target (same folder, so the
 * rename is atomic), renamed over it once they check out, removed on any failure or abort:
 * the target is the whole verified file, or absent.
 */
export async function saveMedia(media: DownloadedMedia, target: string, signal?: AbortSignal): Promise<void> {
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const hash = createHash('sha256');
  let length = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      length += chunk.length;
      callback(null, chunk);
    },
  });
  writing.add(temporary);
  try {
    // 'wx': never write through a file (or link) that someone else put at that name.
    await pipeline(media.body, measure, createWriteStream(temporary, { flags: 'wx' }), { signal });
    const sha256 = hash.digest('hex');
    if (length !== media.size) throw new MediaMismatchError(`got ${length} bytes, the API announced ${media.size}`);
    if (sha256 !== media.sha256) throw new MediaMismatchError(`SHA-256 ${sha256} differs from the ETag's ${media.sha256}`);
    await rename(temporary, target);
  } catch (error) {
    media.body.destroy();
    await rm(temporary, { force: true });
    throw error;
  } finally {
    writing.delete(temporary);
  }
}

/** Removes the files saveMedia is writing, synchronously: the last thing before a forced exit. */
export function removeTemporaryFilesSync(): void {
  for (const file of writing) rmSync(file, { force: true });
  writing.clear();
}

/** Removes temporary files an earlier run left in `dir` when it was killed. */
export async function removeStaleTemporaryFiles(dir: string): Promise<void> {
  const names = await readdir(dir);
  await Promise.all(names.filter((name) => temporaryName.test(name)).map((name) => rm(path.join(dir, name), { force: true })));
}
