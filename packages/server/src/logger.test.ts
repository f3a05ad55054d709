import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { scrubLogLine } from './logger.js';

describe('scrubLogLine', () => {
  it("masks a CDN URL's oh= and oe= values wherever they are, and keeps the rest", () => {
    const url = 'https://mmg.whatsapp.net/v/t62.7118-24/abc.enc?ccb=11-4&oh=01_Q5AaIabcDEF-_x&oe=6650A1B2&_nc_sid=5e03e0';
    const line = JSON.stringify({ msg: `request to ${url} failed`, url });
    const scrubbed = scrubLogLine(line);
    expect(scrubbed).not.toContain('01_Q5AaIabcDEF-_x');
    expect(scrubbed).not.toContain('6650A1B2');
    expect(scrubbed).toContain('/v/t62.7118-24/abc.enc?ccb=11-4&oh=[redacted]&oe=[redacted]&_nc_sid=5e03e0');
    expect(scrubLogLine('?OE=ABC"')).toBe('?OE=[redacted]"');
  });

  it("masks the signature of a link the API signs and of a presigned S3 URL, and keeps the rest", () => {
    const link = `/media/files/${'a'.repeat(64)}?exp=1893499200&name=image-x.jpg&type=image%2Fjpeg&sig=Zm9vYmFyLWJhei1xdXV4LWxpbmstc2lnbmF0dXJlLTQz`;
    expect(scrubLogLine(JSON.stringify({ url: link }))).toBe(
      JSON.stringify({ url: link.replace(/sig=.*$/, 'sig=[redacted]') }),
    );
    const presigned = 'http://s3/b/sha256/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123abcd&x-id=GetObject';
    expect(scrubLogLine(presigned)).toBe('http://s3/b/sha256/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=[redacted]&x-id=GetObject');
  });

  it('masks anything shaped like a JWT', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJpbnN0YW5jZUlkIjoiYSJ9.c2lnbmF0dXJl-_x';
    expect(scrubLogLine(`{"msg":"token ${jwt} refused"}`)).toBe('{"msg":"token [redacted-jwt] refused"}');
  });

  it('leaves ordinary lines alone', () => {
    const line = '{"level":30,"msg":"media stored","sha256":"ab12","oh":"not a query"}';
    expect(scrubLogLine(line)).toBe(line);
  });

  it('works as the pino hook createLogger installs', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino({ hooks: { streamWrite: scrubLogLine } }, sink);
    logger.warn({ reason: 'CDN answered HTTP 500 for https://cdn/x.enc?oh=secret-sig&oe=ABCDEF01' }, 'attempt failed');
    expect(lines.join('')).toContain('?oh=[redacted]&oe=[redacted]');
    expect(lines.join('')).not.toContain('secret-sig');
  });
});
