import { describe, expect, it } from 'vitest';
import { dispositionFilename } from './downloaded-media.js';
import { toJsonBody } from './json-body.js';

describe('dispositionFilename', () => {
  it.each([
    ['attachment; filename="image-0a1b.jpg"', 'image-0a1b.jpg'],
    ['attachment; filename=plain.pdf', 'plain.pdf'],
    ['attachment; filename="a \\"quoted\\" name.txt"', 'a "quoted" name.txt'],
    [`attachment; filename="fallback.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt`, 'résumé.txt'],
    ['inline', undefined],
    [null, undefined],
  ])('reads %s', (header, expected) => {
    expect(dispositionFilename(header)).toBe(expected);
  });
});

describe('toJsonBody', () => {
  it('writes Buffers and Uint8Arrays (views included) as base64 and leaves the rest to JSON.stringify', () => {
    const backing = Buffer.from([9, 1, 2, 3, 9]);
    const body = { a: Buffer.from([1, 2, 3]), b: new Uint8Array(backing.buffer, backing.byteOffset + 1, 3), c: [1, 'x', null], d: { e: 1 } };
    expect(JSON.parse(toJsonBody(body))).toEqual({ a: 'AQID', b: 'AQID', c: [1, 'x', null], d: { e: 1 } });
  });
});
