import { createCipheriv, createHash, createHmac, randomBytes, type Cipher, type Hash, type Hmac } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { MAC_LENGTH } from './decrypt-stream.js';
import { expandMediaKey, MEDIA_KEY_LENGTH } from './media-keys.js';
import type { ContentType } from './media-types.js';

/** What encrypting one media needs. */
export interface EncryptOptions {
  /** The WhatsApp message type; it picks the HKDF info, and so the keys. */
  contentType: ContentType;
  /** The 32-byte mediaKey to use; a fresh random one when absent. */
  mediaKey?: Uint8Array;
}

/** The fields a WhatsApp message carries about an encrypted media. */
export interface EncryptedMedia {
  /** The 32-byte mediaKey the file was encrypted with. */
  mediaKey: Buffer;
  /** SHA-256 of the plaintext. */
  fileSha256: Buffer;
  /** SHA-256 of the whole .enc (ciphertext and MAC). */
  fileEncSha256: Buffer;
  /** Plaintext length in bytes. */
  fileLength: number;
}

/** AES-256-CBC, the HMAC over iv || ciphertext and both hashes, independent of how bytes arrive. */
class MediaEncryptor {
  readonly mediaKey: Buffer;
  private readonly cipher: Cipher;
  private readonly hmac: Hmac;
  private readonly encHash: Hash = createHash('sha256');
  private readonly plainHash: Hash = createHash('sha256');
  private plainLength = 0;

  constructor(
    options: EncryptOptions,
    private readonly emit: (enc: Buffer) => void,
  ) {
    this.mediaKey = Buffer.from(options.mediaKey ?? randomBytes(MEDIA_KEY_LENGTH));
    const { iv, cipherKey, macKey } = expandMediaKey(this.mediaKey, options.contentType);
    this.cipher = createCipheriv('aes-256-cbc', cipherKey, iv);
    this.hmac = createHmac('sha256', macKey).update(iv);
  }

  update(plaintext: Buffer): void {
    this.plainHash.update(plaintext);
    this.plainLength += plaintext.length;
    this.emitCiphertext(this.cipher.update(plaintext));
  }

  /** Pads, appends the MAC and returns the message fields. */
  final(): EncryptedMedia {
    this.emitCiphertext(this.cipher.final());
    const mac = this.hmac.digest().subarray(0, MAC_LENGTH);
    this.encHash.update(mac);
    this.emit(mac);
    return {
      mediaKey: this.mediaKey,
      fileSha256: this.plainHash.digest(),
      fileEncSha256: this.encHash.digest(),
      fileLength: this.plainLength,
    };
  }

  private emitCiphertext(ciphertext: Buffer): void {
    // The cipher holds back partial blocks until a whole one is there: this may be empty, and
    // an empty push emits nothing.
    this.hmac.update(ciphertext);
    this.encHash.update(ciphertext);
    this.emit(ciphertext);
  }
}

/**
 * Encrypts plaintext into a byte-exact WhatsApp .enc:
 * `AES-256-CBC-PKCS7(cipherKey, iv, plaintext) || HMAC-SHA256(macKey, iv || ciphertext)[0:10]`.
 * Once the stream has ended, {@link result} holds the fields a message carries.
 */
export class EncryptStream extends Transform {
  /** The mediaKey in use: the given one, or the random one drawn for this stream. */
  readonly mediaKey: Buffer;
  /** The message fields; set when the last bytes (the MAC) are emitted. */
  result: EncryptedMedia | undefined;

  private readonly encryptor: MediaEncryptor;

  constructor(options: EncryptOptions) {
    super();
    this.encryptor = new MediaEncryptor(options, (enc) => this.push(enc));
    this.mediaKey = this.encryptor.mediaKey;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.encryptor.update(chunk);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.result = this.encryptor.final();
    callback();
  }
}

/**
 * A stream that encrypts one media.
 * @throws InvalidFieldError when a given mediaKey is not 32 bytes.
 */
export function createEncryptStream(options: EncryptOptions): EncryptStream {
  return new EncryptStream(options);
}

/** Encrypts a whole plaintext held in memory. For small media and tests. */
export function encryptMedia(plaintext: Uint8Array, options: EncryptOptions): { enc: Buffer } & EncryptedMedia {
  const parts: Buffer[] = [];
  const encryptor = new MediaEncryptor(options, (enc) => parts.push(enc));
  encryptor.update(Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength));
  const fields = encryptor.final();
  return { enc: Buffer.concat(parts), ...fields };
}
