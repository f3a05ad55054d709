import { Transform, type TransformCallback } from 'node:stream';

/**
 * Encodes a byte stream as base64 text (standard alphabet, padded at the end only), chunk by
 * chunk: each chunk's whole 3-byte groups are encoded at once, and the 0 to 2 bytes left over
 * are carried into the next chunk, so the output is exactly the base64 of the whole stream while
 * no more than one chunk is ever held.
 */
export class Base64Encoder extends Transform {
  /** The bytes of an unfinished 3-byte group (at most 2). */
  private carry: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let start = 0;
    let head = '';
    if (this.carry.length > 0) {
      const needed = 3 - this.carry.length;
      if (chunk.length < needed) {
        this.carry = Buffer.concat([this.carry, chunk]);
        return callback();
      }
      // Only the group that straddles the chunks is copied, never the chunk.
      head = Buffer.concat([this.carry, chunk.subarray(0, needed)]).toString('base64');
      start = needed;
    }
    const end = chunk.length - ((chunk.length - start) % 3);
    this.carry = Buffer.from(chunk.subarray(end));
    callback(null, head + chunk.subarray(start, end).toString('base64'));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.carry.toString('base64'));
  }
}

/** The length of the base64 text of `size` bytes, padding included. */
export function base64Length(size: number): number {
  return Math.ceil(size / 3) * 4;
}
