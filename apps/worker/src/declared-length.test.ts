import { describe, expect, it } from 'vitest';
import { CdnUnavailableError, encryptMedia } from '@wamedia/shared';
import { assertPlausibleLength } from './declared-length.js';

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
