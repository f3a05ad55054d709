import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** `-` for stdin or stdout, else a file path. */
export const STDIO = '-';

/**
 * Streams `input` through `transform` into `output`. A file output appears only once the whole
 * pipeline succeeded: bytes go to a temporary file beside it (same folder, so the rename is
 * atomic), renamed over the target at the end or removed on failure. Stdout cannot be taken
 * back: what was written stays written.
 */
export async function streamThrough(input: string, transform: Transform, output: string): Promise<void> {
  if (output === STDIO) {
    await pipeline(openInput(input), transform, process.stdout);
    return;
  }
  const temporary = path.join(path.dirname(output), `.${path.basename(output)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await pipeline(openInput(input), transform, createTemporaryFile(temporary));
    await rename(temporary, output);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function openInput(input: string): Readable {
  return input === STDIO ? process.stdin : createReadStream(input);
}

function createTemporaryFile(file: string): Writable {
  // 'wx': never write through a file (or link) that someone else put at that name.
  return createWriteStream(file, { flags: 'wx' });
}
