import { createHmac, hkdfSync } from 'node:crypto';
import { InvalidFieldError } from '../errors.js';
import { hkdfInfo, keyClass, type ContentType } from './media-types.js';

/** The keys expanded from one mediaKey for one media type. */
export interface MediaKeys {
  /** CBC initialisation vector, 16 bytes. */
  iv: Buffer;
  /** AES-256 key, 32 bytes. */
  cipherKey: Buffer;
  /** HMAC-SHA256 key, 32 bytes. */
  macKey: Buffer;
  /** Unused by the media format; kept for completeness. */
  refKey: Buffer;
}

export const MEDIA_KEY_LENGTH = 32;

/**
 * HKDF-SHA256(mediaKey, no salt, "WhatsApp <X> Keys", 112 bytes), split into its four keys.
 * @throws InvalidFieldError for a key that is not 32 bytes (it would only fail later, as a
 * misleading MAC mismatch).
 */
export function expandMediaKey(mediaKey: Uint8Array, contentType: ContentType): MediaKeys {
  if (mediaKey.length !== MEDIA_KEY_LENGTH) {
    throw new InvalidFieldError('mediaKey', `must be ${MEDIA_KEY_LENGTH} bytes, got ${mediaKey.length}`);
  }
  const expanded = Buffer.from(hkdfSync('sha256', mediaKey, Buffer.alloc(0), hkdfInfo(contentType), 112));
  return {
    iv: expanded.subarray(0, 16),
    cipherKey: expanded.subarray(16, 48),
    macKey: expanded.subarray(48, 80),
    refKey: expanded.subarray(80, 112),
  };
}

/**
 * The cache key of a media: one-way from the mediaKey, so that knowing a file's hash (or its
 * cache key) never yields the bytes, while anyone holding the mediaKey finds them. The key
 * class is mixed in so a request with the wrong type is not answered from the cache.
 */
export function mediaLookupKey(mediaKey: Uint8Array, contentType: ContentType): string {
  return createHmac('sha256', mediaKey).update(`wamedia/lookup/v1/${keyClass(contentType)}`).digest('hex');
}
