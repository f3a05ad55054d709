import { describe, expect, it } from 'vitest';
import { withoutSignature } from './signed-reference.js';

describe('withoutSignature', () => {
  it.each([
    ['/v/t62.7118-24/a.enc?ccb=11-4&oh=01_AdSig&oe=66F0A1B2', '/v/t62.7118-24/a.enc?ccb=11-4'],
    ['https://mmg.whatsapp.net/o1/a.enc?oh=x&oe=y&mms3=true', 'https://mmg.whatsapp.net/o1/a.enc?mms3=true'],
    ['https://mmg.whatsapp.net/a.enc?oh=x&oe=y', 'https://mmg.whatsapp.net/a.enc'],
    ['/a.enc?OH=x&%6Fe=y&_nc=1#frag', '/a.enc?_nc=1#frag'],
    ['/a.enc', '/a.enc'],
    ['/a.enc?ohno=1&xoe=2', '/a.enc?ohno=1&xoe=2'],
  ])('%s → %s', (reference, expected) => {
    expect(withoutSignature(reference)).toBe(expected);
  });
});
