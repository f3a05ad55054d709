import { describe, expect, it } from 'vitest';
import { isMediaType } from './mimetype.js';

describe('isMediaType', () => {
  it.each(['image/jpeg', 'audio/ogg; codecs=opus', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'text/plain;charset="utf-8"', 'image/jpeg;', 'text/plain; a="x\\"y"'])(
    'accepts %j',
    (value) => expect(isMediaType(value)).toBe(true),
  );

  it.each([
    'image/jpeg;\u0001',
    'image/jpeg\r\nSet-Cookie: a=b',
    'image/jp\u0000eg',
    'image/jpeg; name="caf\u00e9\u0301"',
    'image/\u{1F600}',
    'image',
    'image/',
    '/jpeg',
    'image/jpeg; charset',
    'image/jpeg; a=b c',
    'text/plain; a="unterminated',
    'image jpeg',
  ])('refuses %j', (value) => expect(isMediaType(value)).toBe(false));
});
