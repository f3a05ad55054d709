import { describe, expect, it } from 'vitest';
import { dispositionFilename, toDownloadedMedia } from './downloaded-media.js';
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

describe('toDownloadedMedia', () => {
  const sha256 = 'ab'.repeat(32);
  const answer = (disposition: string) =>
    new Response('x', { headers: { etag: `"${sha256}"`, 'content-length': '1', 'content-type': 'image/jpeg', 'content-disposition': disposition } });

  it('keeps a plain file name from Content-Disposition', () => {
    expect(toDownloadedMedia(answer('attachment; filename="image-0a1b.jpg"')).filename).toBe('image-0a1b.jpg');
  });

  it.each(['../../etc/cron.d/x', '..', '.bashrc', 'a/b.jpg', 'a\\b.jpg', '/abs.jpg', 'r%C3%A9sum%C3%A9.txt'])(
    'replaces the name %j, which is not one plain file name, by one made from the sha256',
    (name) => {
      expect(toDownloadedMedia(answer(`attachment; filename*=UTF-8''${encodeURIComponent(name)}`)).filename).toBe(`${sha256.slice(0, 16)}.jpg`);
    },
  );
});

describe('toJsonBody', () => {
  it('writes Buffers and Uint8Arrays (views included) as base64 and leaves the rest to JSON.stringify', () => {
    const backing = Buffer.from([9, 1, 2, 3, 9]);
    const body = { a: Buffer.from([1, 2, 3]), b: new Uint8Array(backing.buffer, backing.byteOffset + 1, 3), c: [1, 'x', null], d: { e: 1 } };
    expect(JSON.parse(toJsonBody(body))).toEqual({ a: 'AQID', b: 'AQID', c: [1, 'x', null], d: { e: 1 } });
  });
});
