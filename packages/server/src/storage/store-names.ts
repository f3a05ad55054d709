import { InternalError } from '@wamedia/shared';

/**
 * Checks on the names a BlobStore turns into paths or object keys. Both stores accept the same
 * names, and none of them can climb out of its folder or prefix. A bad name is a bug in the
 * caller, hence InternalError.
 */

const SHA256_HEX = /^[0-9a-f]{64}$/;
const TEMP_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// No leading dot: rules out ".", ".." and hidden files. 200 stays under every file system's name limit.
const RECORD_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

/** Throws unless `sha256` is 64 lowercase hex digits. */
export function assertSha256(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) throw new InternalError(`not a lowercase hex SHA-256: ${JSON.stringify(sha256)}`);
}

/** Throws unless `key` is a temporary object's key as writeTemp makes them (a random UUID). */
export function assertTempKey(key: string): void {
  if (!TEMP_KEY.test(key)) throw new InternalError(`not a temporary object key: ${JSON.stringify(key)}`);
}

/** Throws unless `name` is a record name: `[A-Za-z0-9._-]`, 1 to 200 characters, no leading dot. */
export function assertRecordName(name: string): void {
  if (!RECORD_NAME.test(name)) throw new InternalError(`not a valid record name: ${JSON.stringify(name)}`);
}
