import { LengthMismatchError, Sha256MismatchError } from '../errors.js';

/**
 * What one request claims about its media: its fileSha256 (hex) and fileLength. A job shared by
 * several requests is verified against its starter's claims only; every other request's are
 * compared with the verified result, so a wrong claim fails its own request and no other.
 */
export interface MediaHints {
  sha256?: string;
  size?: number;
}

/** The failure of `hints` against what was verified and stored; undefined when they agree. */
export function hintMismatch(hints: MediaHints, stored: { sha256: string; size: number }): Sha256MismatchError | LengthMismatchError | undefined {
  if (hints.sha256 !== undefined && hints.sha256 !== stored.sha256) return new Sha256MismatchError();
  if (hints.size !== undefined && hints.size !== stored.size) return new LengthMismatchError(hints.size, stored.size);
  return undefined;
}
