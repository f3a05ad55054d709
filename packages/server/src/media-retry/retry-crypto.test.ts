import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NotificationUnreadableError } from '@wamedia/shared';
import {
  decryptRetryNotification,
  decryptRetryReceipt,
  encryptRetryNotification,
  encryptRetryReceipt,
  mediaRetryKey,
} from './retry-crypto.js';
import { decodeMediaRetryNotification, encodeMediaRetryNotification, encodeServerErrorReceipt } from './retry-messages.js';

const mediaKey = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const messageId = '3EB0C767D26A1D2E4B1B';

describe('the media retry encryption', () => {
  it('derives the retry key with HKDF-SHA256 and the info "WhatsApp Media Retry Notification" (RFC 5869, computed apart)', () => {
    expect(mediaRetryKey(mediaKey).toString('hex')).toBe('c84dfe50a708e0ec382a7ad2ba40135256f41b652cebe2129661d27871111cb2');
  });

  it('encodes the protobuf messages as WhatsApp does: field 1 the id, 2 the directPath, 3 the result', () => {
    expect(Buffer.from(encodeServerErrorReceipt('AB')).toString('hex')).toBe('0a024142');
    const notification = encodeMediaRetryNotification({ stanzaId: 'AB', directPath: '/v/x', result: 'NOT_FOUND' });
    expect(Buffer.from(notification).toString('hex')).toBe(`0a024142${'1204'}${Buffer.from('/v/x').toString('hex')}1802`);
    // The result's zero value may be left out on the wire: it reads as GENERAL_ERROR, and so does one not known.
    expect(decodeMediaRetryNotification(Buffer.from('0a024142', 'hex')).result).toBe('GENERAL_ERROR');
    expect(decodeMediaRetryNotification(Buffer.from('0a0241421809', 'hex')).result).toBe('GENERAL_ERROR');
  });

  it('makes a receipt of 12 random IV bytes and the encrypted id with its 16-byte tag, which the phone opens', () => {
    const receipt = encryptRetryReceipt(messageId, mediaKey);
    expect(receipt.encIv).toHaveLength(12);
    expect(receipt.encP).toHaveLength(encodeServerErrorReceipt(messageId).length + 16);
    expect(decryptRetryReceipt(receipt, mediaKey, messageId)).toBe(messageId);
    expect(encryptRetryReceipt(messageId, mediaKey).encIv.equals(receipt.encIv)).toBe(false);
  });

  it.each(['SUCCESS', 'NOT_FOUND', 'DECRYPTION_ERROR', 'GENERAL_ERROR'] as const)('reads a %s notification of the phone', (result) => {
    const directPath = result === 'SUCCESS' ? '/v/t62.7118-24/new.enc?ccb=11-4&oh=x&oe=ff' : undefined;
    const sealed = encryptRetryNotification({ stanzaId: messageId, directPath, result }, mediaKey, messageId);
    expect(decryptRetryNotification(sealed, mediaKey, messageId)).toEqual({ stanzaId: messageId, directPath, result });
  });

  it('refuses a notification made with another mediaKey, for another message, altered, or cut short', () => {
    const sealed = encryptRetryNotification({ stanzaId: messageId, result: 'SUCCESS', directPath: '/v/x' }, mediaKey, messageId);
    const altered = Buffer.from(sealed.ciphertext);
    altered[0]! ^= 1;
    const refused = [
      () => decryptRetryNotification(sealed, randomBytes(32), messageId),
      () => decryptRetryNotification(sealed, mediaKey, 'ANOTHER'),
      () => decryptRetryNotification({ ...sealed, ciphertext: altered }, mediaKey, messageId),
      () => decryptRetryNotification({ ...sealed, ciphertext: sealed.ciphertext.subarray(0, 15) }, mediaKey, messageId),
      () => decryptRetryNotification({ ...sealed, iv: sealed.iv.subarray(0, 11) }, mediaKey, messageId),
    ];
    for (const decrypt of refused) expect(decrypt).toThrow(NotificationUnreadableError);
  });

  it('refuses a notification that authenticates but is not a MediaRetryNotification, or names another message', () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', mediaRetryKey(mediaKey), iv).setAAD(Buffer.from(messageId));
    const garbage = Buffer.concat([cipher.update(Buffer.from('ffffffff', 'hex')), cipher.final(), cipher.getAuthTag()]);
    expect(() => decryptRetryNotification({ ciphertext: garbage, iv }, mediaKey, messageId)).toThrow(/not a MediaRetryNotification/);
    const other = encryptRetryNotification({ stanzaId: 'OTHER', result: 'SUCCESS', directPath: '/v/x' }, mediaKey, messageId);
    expect(() => decryptRetryNotification(other, mediaKey, messageId)).toThrow(/another message/);
  });
});
