import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { EncSha256MismatchError, LengthMismatchError, Sha256MismatchError } from '../errors.js';
import type { MediaDigest } from './decrypt-stream.js';

/**
 * What media that is not encrypted must match. Channel (newsletter) media is published in clear,
 * without a mediaKey: there is no MAC, so its fileSha256 is the only proof the bytes are the
 * media's, and it is required.
 */
export interface PlainVerifyOptions {
  /** Expected SHA-256 of the file. */
  fileSha256: Uint8Array;
  /**
   * Expected SHA-256 of the download, checked when given. The download is the file, so a message
   * that carries it carries the file's hash again (Baileys uploads channel media under fileSha256).
   */
  fileEncSha256?: Uint8Array;
  /** Expected length in bytes; checked when given. */
  fileLength?: number;
}

/**
 * Passes the bytes of a media that is not encrypted through unchanged, hashing and counting them,
 * and verifies them when they end: the stage that stands in for DecryptStream when a reference has
 * no mediaKey. The checks run in DecryptStream's order, with its codes (all 422).
 *
 * The bytes are passed on before anything is verified: a consumer must treat them as provisional
 * until the stream ends without error, at which point {@link result} is set.
 */
export class PlainVerifyStream extends Transform {
  /** The verified digest; set just before the stream ends, and only if every check passed. */
  result: MediaDigest | undefined;

  private readonly hash: Hash = createHash('sha256');
  private length = 0;

  constructor(private readonly options: PlainVerifyOptions) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.length += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.result = this.verify();
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  }

  /** @throws IntegrityError subclasses, one per failed check. */
  private verify(): MediaDigest {
    const { fileSha256, fileEncSha256, fileLength } = this.options;
    const sha256 = this.hash.digest();
    if (fileEncSha256 && !sha256.equals(fileEncSha256)) throw new EncSha256MismatchError();
    if (!sha256.equals(fileSha256)) throw new Sha256MismatchError('downloaded');
    if (fileLength !== undefined && fileLength !== this.length) throw new LengthMismatchError(fileLength, this.length, 'downloaded');
    // What was downloaded is the file: its "encrypted" hash and length are the file's own.
    return { sha256, encSha256: sha256, length: this.length, encLength: this.length };
  }
}


/** A stream that verifies one media that is not encrypted (channel media) as it passes through. */
export function createPlainVerifyStream(options: PlainVerifyOptions): PlainVerifyStream {
  return new PlainVerifyStream(options);
}
