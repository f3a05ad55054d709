import path from 'node:path';
import { BATCH_ITEM_ID_PATTERN, extensionFor } from '@wamedia/shared';

/** A file name the API's answer would have put outside the output folder, or made no plain name. */
export class UnsafeOutputPathError extends Error {
  constructor(id: string) {
    super(`item id ${JSON.stringify(id)} does not make a file name inside the output folder`);
    this.name = 'UnsafeOutputPathError';
  }
}

/**
 * Where `wamedia batch` writes an item: `<outDir>/<id>.<ext>`, the name relative to `outDir`
 * and the full path. The id must be an item id (the API's own pattern) and the result must sit
 * directly in `outDir`: the id comes back from a server, and a server is not trusted with paths.
 * @throws UnsafeOutputPathError otherwise.
 */
export function outputPath(outDir: string, id: string, mimetype: string): { name: string; file: string } {
  const name = `${id}.${extensionFor(mimetype)}`;
  const folder = path.resolve(outDir);
  const file = path.resolve(folder, name);
  if (!BATCH_ITEM_ID_PATTERN.test(id) || path.dirname(file) !== folder || path.basename(file) !== name) {
    throw new UnsafeOutputPathError(id);
  }
  return { name, file };
}
