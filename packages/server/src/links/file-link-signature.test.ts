import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LinkRefusedError } from '@wamedia/shared';
import { ApiFileLinks } from './api-file-links.js';
import { attachmentDisposition } from './media-links.js';
import { FileLinkSignature, deriveLinkKey } from './file-link-signature.js';

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const key = randomBytes(32);
const sha256 = 'ab'.repeat(32);
const target = { sha256, size: 1234, mimetype: 'audio/ogg; codecs=opus', fileName: `audio-${sha256.slice(0, 16)}.ogg` };

/** A link made at NOW for `ttl` seconds, and its parts as a route sees them (path param, parsed query). */
async function linkAt(ttl = 60) {
  const link = await new ApiFileLinks(new FileLinkSignature(key), () => NOW).link(target, { ttlSeconds: ttl, origin: 'https://api.example/base' });
  const url = new URL(link.url);
  return { link, url, sha: url.pathname.split('/').at(-1)!, query: Object.fromEntries(url.searchParams) as Record<string, unknown> };
}

const verifier = (now = NOW) => new FileLinkSignature(key, () => now);

describe('ApiFileLinks and FileLinkSignature', () => {
  it('make an absolute link on the origin that verifies to the file, name and type it was made for', async () => {
    const { link, url, sha, query } = await linkAt(60);
    expect(url.origin + url.pathname).toBe(`https://api.example/base/media/files/${sha256}`);
    expect(link).toEqual({ url: link.url, expiresAt: new Date(NOW + 60_000).toISOString(), ...target });
    expect(verifier().verify(sha, query)).toEqual({ sha256, fileName: target.fileName, mimetype: target.mimetype, expires: NOW / 1000 + 60 });
  });

  it('holds until its expiry, not at it', async () => {
    const { sha, query } = await linkAt(60);
    expect(() => verifier(NOW + 59_999).verify(sha, query)).not.toThrow();
    expect(() => verifier(NOW + 60_000).verify(sha, query)).toThrow(/expired at 2030-01-01T12:01:00.000Z/);
  });

  it.each([
    ['sha256', (parts: { sha: string; query: Record<string, unknown> }) => ({ ...parts, sha: 'cd'.repeat(32) })],
    ['exp', (parts: { sha: string; query: Record<string, unknown> }) => ({ ...parts, query: { ...parts.query, exp: String(Number(parts.query.exp) + 3600) } })],
    ['name', (parts: { sha: string; query: Record<string, unknown> }) => ({ ...parts, query: { ...parts.query, name: 'payload.html' } })],
    ['type', (parts: { sha: string; query: Record<string, unknown> }) => ({ ...parts, query: { ...parts.query, type: 'text/html' } })],
    ['sig', (parts: { sha: string; query: Record<string, unknown> }) => ({ ...parts, query: { ...parts.query, sig: flipMiddle(String(parts.query.sig)) } })],
  ])('refuses a link whose %s was changed: the signature does not match', async (_what, tamper) => {
    const { sha, query } = tamper(await linkAt());
    const refusal = catchRefusal(() => verifier().verify(sha, query));
    expect(refusal.message).toBe('link refused: the signature does not match');
  });

  it('refuses a link signed with another key', async () => {
    const { sha, query } = await linkAt();
    expect(() => new FileLinkSignature(randomBytes(32), () => NOW).verify(sha, query)).toThrow(/does not match/);
  });

  it('refuses another spelling of the same signature bytes (spare bits of the last character)', async () => {
    const { sha, query } = await linkAt();
    const sig = String(query.sig);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // 43 characters carry 258 bits for 256: the last one's two low bits are spare (0 when canonical).
    const respelled = sig.slice(0, -1) + alphabet[alphabet.indexOf(sig.at(-1)!) + 1];
    expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(sig, 'base64url'));
    expect(() => verifier().verify(sha, { ...query, sig: respelled })).toThrow(/does not match/);
  });

  it.each([
    ['no exp', { exp: undefined }, /malformed \(exp\)/],
    ['an exp that is not a number', { exp: '12x' }, /malformed \(exp\)/],
    ['two exp values', { exp: ['1', '2'] }, /malformed \(exp\)/],
    ['no name', { name: undefined }, /malformed \(name\)/],
    ['an empty type', { type: '' }, /malformed \(type\)/],
    ['no sig', { sig: undefined }, /malformed \(sig\)/],
    ['a short sig', { sig: 'abc' }, /malformed \(sig\)/],
    ['a sig with padding', { sig: 'A'.repeat(42) + '=' }, /malformed \(sig\)/],
  ])('refuses a link with %s as malformed', async (_what, change, message) => {
    const { sha, query } = await linkAt();
    expect(() => verifier().verify(sha, { ...query, ...change })).toThrow(message);
  });

  it('refuses a path that is not a SHA-256', async () => {
    const { query } = await linkAt();
    expect(() => verifier().verify('../../etc/passwd', query)).toThrow(/malformed \(the path/);
    expect(() => verifier().verify(sha256.toUpperCase(), query)).toThrow(/malformed/);
  });

  it('says nothing about the file in any refusal', async () => {
    const { sha, query } = await linkAt();
    for (const attempt of [{ ...query, sig: flipMiddle(String(query.sig)) }, { ...query, exp: 'x' }]) {
      const text = catchRefusal(() => verifier().verify(sha, attempt)).message;
      for (const detail of [sha256, target.fileName, target.mimetype, String(target.size)]) expect(text).not.toContain(detail);
    }
  });
});

describe('deriveLinkKey', () => {
  it('is fixed for a JWT_SECRET, differs between secrets and from the secret itself', () => {
    expect(deriveLinkKey('secret-one-of-16+')).toEqual(deriveLinkKey('secret-one-of-16+'));
    expect(deriveLinkKey('secret-one-of-16+')).not.toEqual(deriveLinkKey('secret-two-of-16+'));
    expect(deriveLinkKey('secret-one-of-16+')).toHaveLength(32);
  });
});

function flipMiddle(text: string): string {
  const middle = Math.floor(text.length / 2);
  return text.slice(0, middle) + (text[middle] === 'A' ? 'B' : 'A') + text.slice(middle + 1);
}

function catchRefusal(run: () => unknown): LinkRefusedError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LinkRefusedError);
    return error as LinkRefusedError;
  }
  throw new Error('the link was not refused');
}

describe('attachmentDisposition', () => {
  it("writes a served name as express does: a token bare, anything else quoted", () => {
    expect(attachmentDisposition('image-0123456789abcdef.jpg')).toBe('attachment; filename=image-0123456789abcdef.jpg');
    expect(attachmentDisposition('a "b".txt')).toBe('attachment; filename="a \\"b\\".txt"');
  });
});
