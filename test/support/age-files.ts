import { stat, utimes } from 'node:fs/promises';

/**
 * Sets each file's modification time `ms` back, as if it had been last written that much
 * earlier: how tests make a store's temporaries stale without a clock parameter in the store.
 * Both stores (the fs one, and s3rver's LastModified) read the time from the file.
 */
export async function ageFiles(files: string[], ms: number): Promise<void> {
  for (const file of files) {
    const { atime, mtimeMs } = await stat(file);
    await utimes(file, atime, new Date(mtimeMs - ms));
  }
}
