import { createHash, createHmac, hkdfSync } from 'node:crypto';
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

/**
 * The cache key of media that is not encrypted (channel media: no mediaKey), from its fileSha256,
 * in a namespace of its own: a request without a mediaKey never finds media stored through an
 * encrypted reference, nor the other way round, even for the same file. The two cannot meet: this
 * is SHA-256 over 56 bytes (label and hash), while mediaLookupKey's HMAC ends with a SHA-256 over
 * 96 bytes (padded key and inner hash); no input is both, short of a SHA-256 collision.
 *
 * Anyone holding the hash finds the media, which is right for what lives here: only bytes a CDN
 * served in clear, checked against that hash, are ever recorded under such a key.
 */
export function plainMediaLookupKey(fileSha256: Uint8Array): string {
  return createHash('sha256').update(PLAIN_LOOKUP_LABEL).update(fileSha256).digest('hex');
}

const PLAIN_LOOKUP_LABEL = 'wamedia/lookup/v1/plain/';

/**
 * The cache key of a reference: by its mediaKey, or, when it has none (channel media), by its
 * fileSha256 in the plain namespace.
 * @throws InvalidFieldError when it has neither (the request schema refuses that first).
 */
export function referenceLookupKey(reference: { mediaKey?: Uint8Array; fileSha256?: Uint8Array }, contentType: ContentType): string {
  if (reference.mediaKey) return mediaLookupKey(reference.mediaKey, contentType);
  if (reference.fileSha256) return plainMediaLookupKey(reference.fileSha256);
  throw new InvalidFieldError('mediaKey', 'is required (or, for media that is not encrypted, a fileSha256)');
}
