import { describe, expect, it } from 'vitest';
import { CdnUnavailableError, EncSha256MismatchError, MacMismatchError, Sha256MismatchError, encryptMedia } from '@wamedia/shared';
import { assertPlausibleLength, blameTransfer, encryptedLength } from './declared-length.js';

describe('assertPlausibleLength', () => {
  it.each([0, 1, 15, 16, 17, 1000, 54_211])('accepts the length of a real .enc of %i bytes', (size) => {
    const { enc } = encryptMedia(Buffer.alloc(size), { contentType: 'document' });
    expect(() => assertPlausibleLength(enc.length, 'x')).not.toThrow();
  });

  it('accepts no Content-Length', () => {
    expect(() => assertPlausibleLength(undefined, 'x')).not.toThrow();
  });

  it.each([0, 10, 25, 16 * 64 + 10 - 1000, 16 * 64 + 11, 16 * 64 + 9])('refuses %i as a retryable CDN failure', (declared) => {
    expect(() => assertPlausibleLength(declared, 'http://cdn/x.enc')).toThrow(CdnUnavailableError);
  });
});

describe('encryptedLength', () => {
  it.each([0, 1, 15, 16, 17, 1000, 54_211])('is the length of the real .enc of %i bytes', (size) => {
    expect(encryptedLength(size)).toBe(encryptMedia(Buffer.alloc(size), { contentType: 'image' }).enc.length);
  });
});

describe('blameTransfer', () => {
  const fileLength = 1000;
  const right = encryptedLength(fileLength);

  it.each([new MacMismatchError(), new EncSha256MismatchError()])('makes a failed check of bytes cut at a declared length not the media\'s retryable: %s', (error) => {
    const blamed = blameTransfer(error, right - 16, fileLength, 'http://cdn/x.enc');
    expect(blamed).toBeInstanceOf(CdnUnavailableError);
    expect((blamed as Error).message).toContain(`declared a Content-Length of ${right - 16} where the .enc of 1000 bytes is ${right}`);
    expect((blamed as Error).cause).toBe(error);
  });

  it('leaves a failed check final when the declared length is the media\'s, or either length is unknown', () => {
    const error = new MacMismatchError();
    expect(blameTransfer(error, right, fileLength, 'x')).toBe(error);
    expect(blameTransfer(error, undefined, fileLength, 'x')).toBe(error);
    expect(blameTransfer(error, right - 16, undefined, 'x')).toBe(error);
  });

  it('leaves other errors as they are', () => {
    const error = new Sha256MismatchError();
    expect(blameTransfer(error, right - 16, fileLength, 'x')).toBe(error);
  });
});
