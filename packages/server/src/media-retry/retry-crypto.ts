import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { NotificationUnreadableError } from '@wamedia/shared';
import {
  decodeMediaRetryNotification,
  decodeServerErrorReceipt,
  encodeMediaRetryNotification,
  encodeServerErrorReceipt,
  type RetryNotification,
} from './retry-messages.js';

/**
 * The encryption of a media retry, both ways. The receipt that asks the phone to re-upload an
 * expired media, and the phone's notification that answers it, are AES-256-GCM under one key
 * derived from the mediaKey, with the message id as additional data: only someone holding the
 * mediaKey can ask, and an answer only opens for the message it was made for.
 */

/** HKDF info of the media retry key. Fixed by WhatsApp. */
export const MEDIA_RETRY_KEY_INFO = 'WhatsApp Media Retry Notification';
const KEY_LENGTH = 32;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;

/** The bytes of a retry receipt, as the `<enc_p>` and `<enc_iv>` of `<receipt type="server-error">` carry them. */
export interface RetryReceipt {
  /** AES-256-GCM of ServerErrorReceipt {stanzaId}, the 16-byte tag appended. */
  encP: Buffer;
  /** 12 random bytes. */
  encIv: Buffer;
}

/** An encrypted MediaRetryNotification, as Baileys' `messages.media-update` event carries it. */
export interface EncryptedNotification {
  /** The ciphertext, its 16-byte tag appended. */
  ciphertext: Uint8Array;
  /** 12 bytes. */
  iv: Uint8Array;
}

/** HKDF-SHA256(mediaKey, no salt, MEDIA_RETRY_KEY_INFO), 32 bytes. */
export function mediaRetryKey(mediaKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', mediaKey, Buffer.alloc(0), MEDIA_RETRY_KEY_INFO, KEY_LENGTH));
}

/** The receipt asking the phone to re-upload the media of message `messageId`. */
export function encryptRetryReceipt(messageId: string, mediaKey: Uint8Array): RetryReceipt {
  const encIv = randomBytes(IV_LENGTH);
  const encP = seal(encodeServerErrorReceipt(messageId), mediaKey, encIv, messageId);
  return { encP, encIv };
}

/**
 * The phone's answer to a receipt, decrypted.
 * @throws NotificationUnreadableError when it does not authenticate under the mediaKey and
 *   `messageId` (another media's key, another message, altered bytes), is not a notification, or
 *   names another message.
 */
export function decryptRetryNotification(
  { ciphertext, iv }: EncryptedNotification,
  mediaKey: Uint8Array,
  messageId: string,
): RetryNotification {
  const plaintext = open(ciphertext, iv, mediaKey, messageId);
  if (!plaintext) {
    throw new NotificationUnreadableError(
      'it does not decrypt with the mediaKey and the message id of the job (another media or message, or altered bytes)',
    );
  }
  let notification: RetryNotification;
  try {
    notification = decodeMediaRetryNotification(plaintext);
  } catch (error) {
    throw new NotificationUnreadableError('it decrypts, but is not a MediaRetryNotification', { cause: error });
  }
  if (notification.stanzaId !== undefined && notification.stanzaId !== messageId) {
    throw new NotificationUnreadableError('it answers another message');
  }
  return notification;
}

/** The phone's side: a notification as the phone encrypts it (for tests and stand-ins of the phone). */
export function encryptRetryNotification(notification: RetryNotification, mediaKey: Uint8Array, messageId: string): EncryptedNotification {
  const iv = randomBytes(IV_LENGTH);
  return { ciphertext: seal(encodeMediaRetryNotification(notification), mediaKey, iv, messageId), iv };
}

/**
 * The phone's side: the message id inside a receipt (for tests and stand-ins of the phone).
 * @throws NotificationUnreadableError when the receipt does not authenticate.
 */
export function decryptRetryReceipt({ encP, encIv }: RetryReceipt, mediaKey: Uint8Array, messageId: string): string | undefined {
  const plaintext = open(encP, encIv, mediaKey, messageId);
  if (!plaintext) throw new NotificationUnreadableError('the receipt does not decrypt');
  return decodeServerErrorReceipt(plaintext);
}

function seal(plaintext: Uint8Array, mediaKey: Uint8Array, iv: Uint8Array, messageId: string): Buffer {
  const cipher = createCipheriv('aes-256-gcm', mediaRetryKey(mediaKey), iv);
  cipher.setAAD(Buffer.from(messageId, 'utf8'));
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** The plaintext, or undefined when the bytes do not authenticate under the key and `messageId`. */
function open(sealed: Uint8Array, iv: Uint8Array, mediaKey: Uint8Array, messageId: string): Buffer | undefined {
  if (iv.length !== IV_LENGTH || sealed.length < TAG_LENGTH) return undefined;
  const bytes = Buffer.from(sealed);
  const decipher = createDecipheriv('aes-256-gcm', mediaRetryKey(mediaKey), iv);
  decipher.setAAD(Buffer.from(messageId, 'utf8'));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_LENGTH));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_LENGTH)), decipher.final()]);
  } catch {
    return undefined;
  }
}
