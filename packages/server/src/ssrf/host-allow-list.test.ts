import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, HostNotAllowedError } from '@wamedia/shared';
import { HostAllowList } from './host-allow-list.js';

describe('HostAllowList', () => {
  // Made in each test, not once for the file: a mutation in the constructor is then seen by the
  // tests that use it (pnpm test:mutation runs only the tests that cover a mutant).
  let list: HostAllowList;
  beforeEach(() => {
    list = new HostAllowList([' MMG.whatsapp.net ', '*.cdn.example', 'http://127.0.0.1:9000', 'HTTPS://Media.Internal:8443/ignored/path']);
  });

  it.each([
    'https://mmg.whatsapp.net/v/t62/x.enc?oh=1',
    'https://MMG.WhatsApp.net/x', // names compare case-insensitively
    'https://a.cdn.example/x',
    'https://a.b.cdn.example/x',
    'http://127.0.0.1:9000/x', // an explicit origin: plain http and its port
    'https://media.internal:8443/x',
  ])('allows %s', (url) => {
    expect(list.allows(new URL(url))).toBe(true);
    expect(() => list.assertAllowed(new URL(url))).not.toThrow();
  });

  it.each([
    'http://mmg.whatsapp.net/x', // a name allows https only
    'https://mmg.whatsapp.net:8443/x', // and port 443 only
    'https://cdn.example/x', // a wildcard does not allow its apex
    'https://evilcdn.example/x', // nor a name that merely ends the same
    'http://a.cdn.example/x',
    'https://a.cdn.example:8443/x',
    'https://whatsapp.net/x',
    'https://a.mmg.whatsapp.net/x', // a name allows that name, not its subdomains
    'https://xmg.whatsapp.net/x',
    'http://127.0.0.1:9001/x', // an explicit origin is that origin, no other port
    'https://127.0.0.1:9000/x', // nor protocol
    'http://media.internal:8443/x',
    'https://other.example/x',
  ])('refuses %s', (url) => {
    expect(list.allows(new URL(url))).toBe(false);
    expect(() => list.assertAllowed(new URL(url))).toThrow(HostNotAllowedError);
  });

  it('refuses with HOST_NOT_ALLOWED naming the origin, not the path or query', () => {
    let error: unknown;
    try {
      list.assertAllowed(new URL('https://evil.example/secret-path?oh=token'));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(HostNotAllowedError);
    const refusal = error as HostNotAllowedError;
    expect(refusal.code).toBe('HOST_NOT_ALLOWED');
    expect(refusal.origin).toBe('https://evil.example');
    expect(refusal.message).toContain('MEDIA_ALLOWED_HOSTS');
    expect(refusal.message).not.toMatch(/secret-path|token/);
  });

  it('knows its explicit origins, as URL.origin spells them', () => {
    expect(list.isExplicitOrigin('http://127.0.0.1:9000')).toBe(true);
    expect(list.isExplicitOrigin('https://media.internal:8443')).toBe(true);
    expect(list.isExplicitOrigin('https://mmg.whatsapp.net')).toBe(false);
    expect(list.isExplicitOrigin('http://127.0.0.1:9001')).toBe(false);
  });

  describe('assertAllowedAddress', () => {
    it('accepts a public address for any origin', () => {
      expect(() => list.assertAllowedAddress('https://mmg.whatsapp.net', '157.240.1.1', 4)).not.toThrow();
      expect(() => list.assertAllowedAddress('https://mmg.whatsapp.net', '2a03:2880::1', 'IPv6')).not.toThrow();
    });

    it.each([
      ['127.0.0.1', 4],
      ['169.254.169.254', 'IPv4'],
      ['10.0.0.1', 4],
      ['::1', 6],
      ['::ffff:127.0.0.1', 'IPv6'],
      ['not-an-address', 4],
    ] as const)("refuses %s for a name's origin, without naming the address", (address, family) => {
      let error: unknown;
      try {
        list.assertAllowedAddress('https://mmg.whatsapp.net', address, family);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(HostNotAllowedError);
      expect((error as HostNotAllowedError).message).toContain('non-public address');
      expect((error as HostNotAllowedError).message).not.toContain(address);
    });

    it('exempts an explicit origin, and only it', () => {
      expect(() => list.assertAllowedAddress('http://127.0.0.1:9000', '127.0.0.1', 4)).not.toThrow();
      expect(() => list.assertAllowedAddress('https://media.internal:8443', '10.1.2.3', 4)).not.toThrow();
      expect(() => list.assertAllowedAddress('http://127.0.0.1:9001', '127.0.0.1', 4)).toThrow(HostNotAllowedError);
    });
  });

  describe('set-up', () => {
    it('allows nothing when empty', () => {
      const empty = new HostAllowList([]);
      expect(empty.allows(new URL('https://mmg.whatsapp.net/x'))).toBe(false);
    });

    it('refuses an entry with :// that is not an http(s) origin, naming the setting and the entry', () => {
      for (const entry of ['ftp://files.example', 'http://', 'ws://socket.example']) {
        let error: unknown;
        try {
          new HostAllowList([entry], 'SOME_SETTING');
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).problems).toEqual([`SOME_SETTING entry "${entry}" is not an http(s) origin`]);
      }
      expect(() => new HostAllowList(['ftp://files.example'])).toThrow(/MEDIA_ALLOWED_HOSTS entry/);
    });
  });
});
