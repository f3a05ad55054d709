import { createDecipheriv, createHash, createHmac, timingSafeEqual, type Decipher, type Hash, type Hmac } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  BadPaddingError,
  EncSha256MismatchError,
  LengthMismatchError,
  MacMismatchError,
  MediaTooShortError,
  NotBlockAlignedError,
  Sha256MismatchError,
} from '../errors.js';
import { expandMediaKey } from './media-keys.js';
import type { ContentType } from './media-types.js';

/** Length of the truncated HMAC-SHA256 that ends every .enc file. */
export const MAC_LENGTH = 10;

const AES_BLOCK = 16;

/** One padded block and the MAC: the smallest well-formed .enc (an empty plaintext). */
const MIN_ENC_LENGTH = AES_BLOCK + MAC_LENGTH;

/** What a download needs to decrypt and verify one media. */
export interface DecryptOptions {
  /** The WhatsApp message type; it picks the HKDF info, and so the keys. */
  contentType: ContentType;
  /** The 32-byte mediaKey of the message. */
  mediaKey: Uint8Array;
  /** Expected SHA-256 of the plaintext; checked when given. */
  fileSha256?: Uint8Array;
  /** Expected SHA-256 of the whole .enc (ciphertext and MAC); checked when given. */
  fileEncSha256?: Uint8Array;
  /** Expected plaintext length in bytes; checked when given. */
  fileLength?: number;
}

/** What a verified decryption measured. */
export interface MediaDigest {
  /** SHA-256 of the plaintext: the media's content address. */
  sha256: Buffer;
  /** SHA-256 of the whole .enc. */
  encSha256: Buffer;
  /** Plaintext length in bytes. */
  length: number;
  /** .enc length in bytes (what was downloaded). */
  encLength: number;
}

/**
 * The decryption and every check of one .enc, independent of how the bytes arrive.
 *
 * The last {@link MAC_LENGTH} bytes seen so far might be the MAC, so they are held back from the
 * cipher and the HMAC until more bytes prove they are ciphertext; nothing else is buffered.
 */
class MediaDecryptor {
  private readonly decipher: Decipher;
  private readonly hmac: Hmac;
  private readonly encHash: Hash = createHash('sha256');
  private readonly plainHash: Hash = createHash('sha256');
  private readonly tail = Buffer.alloc(MAC_LENGTH);
  private tailLength = 0;
  private encLength = 0;
  private plainLength = 0;

  constructor(
    private readonly options: DecryptOptions,
    private readonly emit: (plaintext: Buffer) => void,
  ) {
    const { iv, cipherKey, macKey } = expandMediaKey(options.mediaKey, options.contentType);
    this.decipher = createDecipheriv('aes-256-cbc', cipherKey, iv);
    this.hmac = createHmac('sha256', macKey).update(iv);
  }

  /** Takes the next bytes of the .enc, of any size, and emits whatever plaintext they complete. */
  update(chunk: Buffer): void {
    this.encHash.update(chunk);
    this.encLength += chunk.length;
    const seen = this.tailLength + chunk.length;
    if (seen <= MAC_LENGTH) {
      chunk.copy(this.tail, this.tailLength);
      this.tailLength = seen;
      return;
    }
    // Of the bytes seen, all but the last MAC_LENGTH are now known to be ciphertext. Feeding the
    // held-back tail and a view of the chunk separately avoids concatenating (copying) the chunk;
    // either may be empty, which the cipher and the HMAC take as nothing.
    const tailCiphertext = Math.min(this.tailLength, seen - MAC_LENGTH);
    const chunkCiphertext = Math.max(0, chunk.length - MAC_LENGTH);
    this.decrypt(this.tail.subarray(0, tailCiphertext));
    this.decrypt(chunk.subarray(0, chunkCiphertext));
    this.tail.copyWithin(0, tailCiphertext, this.tailLength);
    chunk.copy(this.tail, this.tailLength - tailCiphertext, chunkCiphertext);
    this.tailLength = MAC_LENGTH;
  }

  /**
   * Runs the checks in whatsmeow's order and emits the last plaintext block once the MAC holds.
   * @throws IntegrityError subclasses, one per failed check.
   */
  final(): MediaDigest {
    const { fileSha256, fileEncSha256, fileLength } = this.options;
    if (this.encLength < MIN_ENC_LENGTH) throw new MediaTooShortError(this.encLength);
    const ciphertextLength = this.encLength - MAC_LENGTH;
    if (ciphertextLength % AES_BLOCK !== 0) throw new NotBlockAlignedError(ciphertextLength);
    const encSha256 = this.encHash.digest();
    if (fileEncSha256 && !encSha256.equals(fileEncSha256)) throw new EncSha256MismatchError();
    // timingSafeEqual: a MAC compared byte by byte early-exits and leaks how much of a forgery is right.
    if (!timingSafeEqual(this.hmac.digest().subarray(0, MAC_LENGTH), this.tail)) throw new MacMismatchError();
    this.emitPlaintext(this.finalBlock());
    const sha256 = this.plainHash.digest();
    if (fileSha256 && !sha256.equals(fileSha256)) throw new Sha256MismatchError();
    if (fileLength !== undefined && fileLength !== this.plainLength) {
      throw new LengthMismatchError(fileLength, this.plainLength);
    }
    return { sha256, encSha256, length: this.plainLength, encLength: this.encLength };
  }

  private finalBlock(): Buffer {
    try {
      return this.decipher.final();
    } catch (error) {
      throw new BadPaddingError({ cause: error });
    }
  }

  private decrypt(ciphertext: Buffer): void {
    this.hmac.update(ciphertext);
    this.emitPlaintext(this.decipher.update(ciphertext));
  }

  private emitPlaintext(plaintext: Buffer): void {
    // The cipher holds back partial blocks (and the last whole one, for the padding).
    if (plaintext.length === 0) return;
    this.plainHash.update(plaintext);
    this.plainLength += plaintext.length;
    this.emit(plaintext);
  }
}


/**
 * Decrypts a WhatsApp .enc stream into plaintext and verifies it, in bounded memory.
 *
 * Plaintext is emitted as it is decrypted, before anything is verified: a consumer must treat it
 * as provisional until the stream ends without error, at which point {@link result} is set.
 * Any failed check makes the stream error with an IntegrityError.
 */
export class DecryptStream extends Transform {
  /** The verified digest; set just before the stream ends, and only if every check passed. */
  result: MediaDigest | undefined;

  private readonly decryptor: MediaDecryptor;

  constructor(options: DecryptOptions) {
    super();
    this.decryptor = new MediaDecryptor(options, (plaintext) => this.push(plaintext));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.decryptor.update(chunk);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.result = this.decryptor.final();
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  }
}

/**
 * A stream that decrypts and verifies one .enc.
 * @throws InvalidFieldError when the mediaKey is not 32 bytes.
 */
export function createDecryptStream(options: DecryptOptions): DecryptStream {
  return new DecryptStream(options);
}

/**
 * Decrypts and verifies a whole .enc held in memory. For small media and tests: downloads stream.
 * @throws IntegrityError subclasses, one per failed check.
 */
export function decryptMedia(enc: Uint8Array, options: DecryptOptions): { plaintext: Buffer } & MediaDigest {
  const parts: Buffer[] = [];
  const decryptor = new MediaDecryptor(options, (plaintext) => parts.push(plaintext));
  decryptor.update(Buffer.from(enc.buffer, enc.byteOffset, enc.byteLength));
  const digest = decryptor.final();
  return { plaintext: Buffer.concat(parts), ...digest };
}
