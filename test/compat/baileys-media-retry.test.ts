/**
 * The media retry encryption against Baileys itself (the version bench/ measures against): a
 * receipt made by wamedia opens with Baileys' key derivation, cipher and protobuf, and Baileys'
 * own receipt opens with wamedia's; a notification encrypted the way the phone does (Baileys'
 * protobuf and cipher) is read by wamedia, and wamedia's stand-in of the phone is read by
 * Baileys' decryptMediaRetryData. Each with the mediaKey as a request carries it: base64, a
 * serialized Buffer, and a serialized Uint8Array, read by the request schema.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aesDecryptGCM, aesEncryptGCM, decryptMediaRetryData, encryptMediaRetryRequest, hkdf, proto, type BinaryNode } from 'baileys';
import {
  decryptRetryNotification,
  decryptRetryReceipt,
  encryptRetryNotification,
  encryptRetryReceipt,
  retryResults,
} from '@wamedia/server';
import { mediaContentSchema } from '@wamedia/shared';

const rawKey = randomBytes(32);
const key = { id: '3EB0C767D26A1D2E4B1B', remoteJid: '5511999999999@s.whatsapp.net', fromMe: false };
const directPath = '/v/t62.7118-24/12345_67890.enc?ccb=11-4&oh=01_Q5Aa&oe=68C0FFEE';

/** Baileys' media retry key (its getMediaRetryKey is not exported: the same call). */
const baileysRetryKey = (mediaKey: Buffer) => Buffer.from(hkdf(mediaKey, 32, { info: 'WhatsApp Media Retry Notification' }));

/** One child of a binary node by tag. */
function child(node: BinaryNode, tag: string): BinaryNode {
  const found = (node.content as BinaryNode[]).find((c) => c.tag === tag);
  if (!found) throw new Error(`no <${tag}> in <${node.tag}>`);
  return found;
}

describe.each([
  ['base64', rawKey.toString('base64')],
  ['a serialized Buffer', JSON.parse(JSON.stringify(rawKey)) as unknown],
  ['a serialized Uint8Array', JSON.parse(JSON.stringify(new Uint8Array(rawKey))) as unknown],
])('with the mediaKey given as %s', (_form, given) => {
  // Always there: a reference without one (channel media) is only valid with a fileSha256.
  const mediaKey = mediaContentSchema.parse({ directPath, mediaKey: given, messageKey: key }).mediaKey!;

  it('reads the same 32 bytes', () => {
    expect(mediaKey.equals(rawKey)).toBe(true);
  });

  it("makes a receipt that Baileys' cipher and ServerErrorReceipt open to the message id", () => {
    const { encP, encIv } = encryptRetryReceipt(key.id, mediaKey);
    const plaintext = aesDecryptGCM(encP, baileysRetryKey(rawKey), encIv, Buffer.from(key.id));
    expect(proto.ServerErrorReceipt.decode(plaintext).stanzaId).toBe(key.id);
  });

  it("opens the receipt of Baileys' encryptMediaRetryRequest (the same key derivation both ways)", () => {
    const node = encryptMediaRetryRequest(key, rawKey, '5511777777777@s.whatsapp.net');
    const encrypt = child(node, 'encrypt');
    const receipt = { encP: Buffer.from(child(encrypt, 'enc_p').content as Uint8Array), encIv: Buffer.from(child(encrypt, 'enc_iv').content as Uint8Array) };
    expect(decryptRetryReceipt(receipt, mediaKey, key.id)).toBe(key.id);
  });

  it.each(retryResults)('reads a %s notification encrypted the way the phone does', (result) => {
    const message = { stanzaId: key.id, result: proto.MediaRetryNotification.ResultType[result], ...(result === 'SUCCESS' ? { directPath } : {}) };
    const iv = randomBytes(12);
    const ciphertext = aesEncryptGCM(Buffer.from(proto.MediaRetryNotification.encode(message).finish()), baileysRetryKey(rawKey), iv, Buffer.from(key.id));
    expect(decryptRetryNotification({ ciphertext, iv }, mediaKey, key.id)).toEqual({
      stanzaId: key.id,
      result,
      directPath: result === 'SUCCESS' ? directPath : undefined,
    });
  });

  it("stands in for the phone in a way Baileys' decryptMediaRetryData reads", () => {
    const sealed = encryptRetryNotification({ stanzaId: key.id, directPath, result: 'SUCCESS' }, mediaKey, key.id);
    const decoded = decryptMediaRetryData({ ciphertext: sealed.ciphertext, iv: sealed.iv }, rawKey, key.id);
    expect(decoded).toMatchObject({ stanzaId: key.id, directPath, result: proto.MediaRetryNotification.ResultType.SUCCESS });
  });
});
