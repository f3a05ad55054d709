import { Transform, type TransformCallback } from 'node:stream';

/**
 * Passes on the first `length` bytes, then ends. A store that answers a range with more than was
 * asked (s3rver ignores `bytes=0-0`; a proxy may drop the Range) must not push bytes past the
 * Content-Length already sent: on a kept-alive connection they would be read as the next answer.
 */
export function byteCap(length: number): Transform {
  let left = length;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (left <= 0) return callback();
      const piece = chunk.length <= left ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      this.push(piece);
      if (left === 0) this.push(null);
      callback();
    },
  });
}
