import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Base64Encoder, base64Length } from './base64-encoder.js';

/** The encoder's output for `chunks`, fed one by one. */
async function encode(chunks: Buffer[]): Promise<string> {
  return text(Readable.from(chunks).pipe(new Base64Encoder()));
}

describe('Base64Encoder', () => {
  it('encodes any split of any bytes exactly as the whole is encoded', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 12 }), async (parts) => {
        const chunks = parts.map((part) => Buffer.from(part));
        expect(await encode(chunks)).toBe(Buffer.concat(chunks).toString('base64'));
      }),
    );
  });

  it('carries the remainder through chunks of one byte', async () => {
    const bytes = randomBytes(1000);
    const chunks = [...bytes].map((byte) => Buffer.from([byte]));
    expect(await encode(chunks)).toBe(bytes.toString('base64'));
  });

  it('encodes nothing as nothing, and pads only at the end', async () => {
    expect(await encode([])).toBe('');
    expect(await encode([Buffer.from('a'), Buffer.from('bcd')])).toBe('YWJjZA==');
  });

  it('states the length of the text', () => {
    for (const size of [0, 1, 2, 3, 4, 5, 6, 1_000_001]) {
      expect(base64Length(size)).toBe(Buffer.alloc(size).toString('base64').length);
    }
  });
});
