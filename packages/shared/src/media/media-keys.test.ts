import { createCipheriv, createHmac, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidFieldError } from '../errors.js';
import { expandMediaKey, mediaLookupKey, plainMediaLookupKey, referenceLookupKey } from './media-keys.js';
import { contentTypes, hkdfInfo, keyClass, type ContentType } from './media-types.js';
import { tinyMediaKey, tinyVectors } from '../../../../test/support/media-fixtures.js';

const checkKey = Buffer.from('7bc07e5ae275cc2b22ce4f40369c58279ccfc3507f188d07fc42d90221e91a4a', 'hex');

describe('expandMediaKey', () => {
  it('gives the key expansion check values of docs/media-format.md', () => {
    const image = expandMediaKey(checkKey, 'image');
    expect(image.iv.toString('hex')).toBe('a2119aed4a2afefa0afcab6b1b00805d');
    expect(image.macKey.toString('hex')).toBe('ecb017218c52d6e2adbcde818cacfcfc6cdefdf810555ce0e2bb082b4b9c1de1');
    expect(expandMediaKey(checkKey, 'document').iv.toString('hex')).toBe('91b53197024aa18ebc6dbdd0a0d8d8db');
    expect(expandMediaKey(checkKey, 'audio').iv.toString('hex')).toBe('3c5225de2fca4bb262e96b3c9e1f9cd9');
    expect(expandMediaKey(checkKey, 'video').iv.toString('hex')).toBe('085a7b0c5300644bb0c001930a37f814');
  });

  it('splits the 112 HKDF bytes into iv, cipherKey, macKey and refKey in that order', () => {
    const keys = expandMediaKey(checkKey, 'ptt');
    const expanded = Buffer.from(hkdfSync('sha256', checkKey, Buffer.alloc(0), 'WhatsApp Audio Keys', 112));
    expect(Buffer.concat([keys.iv, keys.cipherKey, keys.macKey, keys.refKey])).toEqual(expanded);
    expect([keys.iv.length, keys.cipherKey.length, keys.macKey.length, keys.refKey.length]).toEqual([16, 32, 32, 32]);
  });

  it('refuses a mediaKey of another length than 32 bytes, naming the field and both lengths', () => {
    for (const length of [0, 31, 33]) {
      const refusal = (() => {
        try {
          expandMediaKey(new Uint8Array(length), 'image');
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(refusal).toBeInstanceOf(InvalidFieldError);
      expect(refusal).toMatchObject({ field: 'mediaKey', reason: `must be 32 bytes, got ${length}` });
    }
  });

  it.each(tinyVectors)('yields keys that rebuild the tiny $contentType vector byte for byte', (vector) => {
    const { iv, cipherKey, macKey } = expandMediaKey(tinyMediaKey, vector.contentType);
    const cipher = createCipheriv('aes-256-cbc', cipherKey, iv);
    const ciphertext = Buffer.concat([cipher.update(vector.plaintext), cipher.final()]);
    const mac = createHmac('sha256', macKey).update(iv).update(ciphertext).digest().subarray(0, 10);
    expect(Buffer.concat([ciphertext, mac]).toString('hex')).toBe(vector.enc.toString('hex'));
  });
});

describe('hkdfInfo', () => {
  const expected: Record<ContentType, string> = {
    image: 'WhatsApp Image Keys',
    sticker: 'WhatsApp Image Keys',
    product: 'WhatsApp Image Keys',
    'biz-cover-photo': 'WhatsApp Image Keys',
    video: 'WhatsApp Video Keys',
    gif: 'WhatsApp Video Keys',
    ptv: 'WhatsApp Video Keys',
    audio: 'WhatsApp Audio Keys',
    ptt: 'WhatsApp Audio Keys',
    document: 'WhatsApp Document Keys',
    history: 'WhatsApp History Keys',
    'md-msg-hist': 'WhatsApp History Keys',
    'app-state': 'WhatsApp App State Keys',
    'md-app-state': 'WhatsApp App State Keys',
    'thumbnail-image': 'WhatsApp Image Thumbnail Keys',
    'thumbnail-video': 'WhatsApp Video Thumbnail Keys',
    'thumbnail-document': 'WhatsApp Document Thumbnail Keys',
    'thumbnail-link': 'WhatsApp Link Thumbnail Keys',
    'payment-bg-image': 'WhatsApp Payment Background Keys',
    'sticker-pack': 'WhatsApp Sticker Pack Keys',
  };

  it('accepts exactly the contentTypes of docs/media-format.md', () => {
    expect([...contentTypes].sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('maps %s to "%s"', (contentType, info) => {
    expect(hkdfInfo(contentType as ContentType)).toBe(info);
  });
});

describe('mediaLookupKey', () => {
  const otherKey = Buffer.from(checkKey).fill(7, 0, 1);

  it('is HMAC-SHA256(mediaKey, "wamedia/lookup/v1/<key class>")', () => {
    expect(mediaLookupKey(checkKey, 'image')).toBe('e271bbaf98d74d377a1fe3c9887f94c6670d61baec23a4de0dc9079c307669f8');
    expect(mediaLookupKey(checkKey, 'ptt')).toBe(createHmac('sha256', checkKey).update('wamedia/lookup/v1/Audio').digest('hex'));
  });

  it('is stable and hex', () => {
    expect(mediaLookupKey(checkKey, 'image')).toBe(mediaLookupKey(Buffer.from(checkKey), 'image'));
    expect(mediaLookupKey(checkKey, 'image')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same for every contentType of one key class', () => {
    expect(mediaLookupKey(checkKey, 'sticker')).toBe(mediaLookupKey(checkKey, 'image'));
    expect(mediaLookupKey(checkKey, 'md-msg-hist')).toBe(mediaLookupKey(checkKey, 'history'));
  });

  it('differs per key class and per mediaKey', () => {
    const perClass = new Map(contentTypes.map((type) => [keyClass(type), mediaLookupKey(checkKey, type)]));
    expect(new Set(perClass.values()).size).toBe(perClass.size);
    expect(mediaLookupKey(otherKey, 'image')).not.toBe(mediaLookupKey(checkKey, 'image'));
  });

  it('does not reveal the mediaKey or the keys derived from it', () => {
    const lookup = mediaLookupKey(checkKey, 'image');
    const { cipherKey, macKey } = expandMediaKey(checkKey, 'image');
    for (const secret of [checkKey, cipherKey, macKey]) expect(lookup).not.toContain(secret.toString('hex').slice(0, 16));
  });
});

describe('plainMediaLookupKey', () => {
  it('is SHA-256 of the label of docs/media-format.md and the fileSha256', () => {
    expect(plainMediaLookupKey(checkKey)).toBe('0eebf52e0326ad962a76c1d06194317055bee161bb859ab90f27ba97ec15e0f9');
  });

  it('is stable and hex, and differs per file', () => {
    expect(plainMediaLookupKey(checkKey)).toBe(plainMediaLookupKey(Buffer.from(checkKey)));
    expect(plainMediaLookupKey(checkKey)).toMatch(/^[0-9a-f]{64}$/);
    expect(plainMediaLookupKey(Buffer.alloc(32))).not.toBe(plainMediaLookupKey(checkKey));
  });

  it('never meets mediaLookupKey, even for the same 32 bytes', () => {
    const plain = plainMediaLookupKey(checkKey);
    for (const type of contentTypes) expect(mediaLookupKey(checkKey, type)).not.toBe(plain);
  });
});

describe('referenceLookupKey', () => {
  it('keys a reference by its mediaKey when it has one, else by its fileSha256 in the plain namespace', () => {
    const fileSha256 = Buffer.alloc(32, 9);
    expect(referenceLookupKey({ mediaKey: checkKey, fileSha256 }, 'image')).toBe(mediaLookupKey(checkKey, 'image'));
    expect(referenceLookupKey({ fileSha256 }, 'image')).toBe(plainMediaLookupKey(fileSha256));
    expect(() => referenceLookupKey({}, 'image')).toThrow(InvalidFieldError);
    expect(() => referenceLookupKey({}, 'image')).toThrow(
      expect.objectContaining({ field: 'mediaKey', reason: expect.stringMatching(/is required .*fileSha256/) }),
    );
  });
});
