import { beforeEach, describe, expect, it } from 'vitest';
import { CallbackPolicy } from './callback-policy.js';
import { CallbackNotAllowedError, ConfigError, errorCatalogue } from '@wamedia/shared';
import { isPrivateAddress, type AddressFamily } from './private-addresses.js';

/** Every range the policy refuses, with an address at each edge and the IPv4-mapped forms. */
const nonPublic: [string, AddressFamily, string][] = [
  ['127.0.0.1', 4, 'loopback'],
  ['127.255.255.254', 4, 'loopback, top of 127/8'],
  ['::1', 6, 'IPv6 loopback'],
  ['10.0.0.1', 4, 'private 10/8'],
  ['10.255.255.255', 4, 'private 10/8, top'],
  ['172.16.0.1', 4, 'private 172.16/12'],
  ['172.31.255.255', 4, 'private 172.16/12, top'],
  ['192.168.0.1', 4, 'private 192.168/16'],
  ['192.168.255.255', 4, 'private 192.168/16, top'],
  ['fc00::1', 6, 'unique local fc00::/7'],
  ['fd12:3456::1', 6, 'unique local fd00::/8'],
  ['169.254.169.254', 4, 'link-local (cloud metadata)'],
  ['169.254.0.1', 4, 'link-local'],
  ['fe80::1', 6, 'IPv6 link-local'],
  ['febf:ffff::1', 6, 'IPv6 link-local, top of fe80::/10'],
  ['0.0.0.0', 4, 'unspecified'],
  ['::', 6, 'IPv6 unspecified'],
  ['100.64.0.1', 4, 'CGNAT 100.64/10'],
  ['100.127.255.255', 4, 'CGNAT 100.64/10, top'],
  ['::ffff:127.0.0.1', 6, 'IPv4-mapped loopback, dotted'],
  ['::ffff:7f00:1', 6, 'IPv4-mapped loopback, hex'],
  ['::ffff:10.1.2.3', 6, 'IPv4-mapped 10/8'],
  ['::ffff:ac10:1', 6, 'IPv4-mapped 172.16.0.1, hex'],
  ['::ffff:192.168.1.1', 6, 'IPv4-mapped 192.168/16'],
  ['::ffff:a9fe:a9fe', 6, 'IPv4-mapped 169.254.169.254, hex'],
  ['::ffff:100.64.0.1', 6, 'IPv4-mapped CGNAT'],
  ['::ffff:0.0.0.0', 6, 'IPv4-mapped unspecified'],
  ['FE80::ABCD', 6, 'upper-case IPv6'],
  ['198.18.0.1', 4, 'benchmarking 198.18/15'],
  ['198.19.255.255', 4, 'benchmarking 198.18/15, top'],
  ['64:ff9b::a9fe:a9fe', 6, 'NAT64 of 169.254.169.254'],
  ['64:ff9b::808:808', 6, 'NAT64, whatever it embeds'],
  ['::7f00:1', 6, 'IPv4-compatible 127.0.0.1'],
  ['::a00:1', 6, 'IPv4-compatible 10.0.0.1'],
  ['2002:7f00:1::', 6, '6to4 of 127.0.0.1'],
  ['2002:a9fe:a9fe::1', 6, '6to4 of 169.254.169.254'],
  ['2002:c0a8:101:1::1', 6, '6to4 of 192.168.1.1'],
  ['2002:ac1f:ffff::', 6, '6to4 of 172.31.255.255'],
  ['2002:c612::1', 6, '6to4 of 198.18.0.0'],
  ['fec0::1', 6, 'IPv6 site-local'],
  ['feff:ffff::1', 6, 'IPv6 site-local, top of fec0::/10'],
];

const publicAddresses: [string, AddressFamily][] = [
  ['8.8.8.8', 4],
  ['93.184.216.34', 4],
  ['11.0.0.1', 4],
  ['172.15.255.255', 4],
  ['172.32.0.1', 4],
  ['192.167.255.255', 4],
  ['192.169.0.1', 4],
  ['169.253.255.255', 4],
  ['100.63.255.255', 4],
  ['100.128.0.1', 4],
  ['128.0.0.1', 4],
  ['2606:4700:4700::1111', 6],
  ['::ffff:8.8.8.8', 6],
  ['2002:808:808::1', 6],
  ['198.20.0.1', 4],
  ['198.17.255.255', 4],
  ['::ffff:808:808', 6],
];

describe('isPrivateAddress', () => {
  it.each(nonPublic)('%s is not public (%s)', (address, family) => {
    expect(isPrivateAddress(address, family)).toBe(true);
  });

  it.each(publicAddresses)('%s is public', (address, family) => {
    expect(isPrivateAddress(address, family)).toBe(false);
  });

  it('takes the families dns.lookup and sockets report', () => {
    expect(isPrivateAddress('10.0.0.1', 'IPv4')).toBe(true);
    expect(isPrivateAddress('::1', 'IPv6')).toBe(true);
    expect(isPrivateAddress('8.8.8.8', 'IPv4')).toBe(false);
    expect(isPrivateAddress('2606:4700:4700::1111', 'IPv6')).toBe(false);
  });

  it('fails closed on something that is not an address of the given family', () => {
    expect(isPrivateAddress('example.com', 4)).toBe(true);
    expect(isPrivateAddress('', 4)).toBe(true);
    expect(isPrivateAddress('8.8.8.8', 6)).toBe(true);
    expect(isPrivateAddress('2606:4700:4700::1111', 4)).toBe(true);
  });
});

// Each policy is made in each test (beforeEach), not once for the file: a mutation in the
// constructor is then seen by the tests that use it (pnpm test:mutation runs only those).
describe('CallbackPolicy', () => {
  const refused = (policy: CallbackPolicy, url: string) => () => policy.assertAllowedUrl(new URL(url));

  describe('named hosts (the MEDIA_ALLOWED_HOSTS forms)', () => {
    let policy: CallbackPolicy;
    beforeEach(() => {
      policy = new CallbackPolicy(['hooks.example.com', '*.example.org']);
    });

    it.each(['https://hooks.example.com/webhook?token=x', 'https://HOOKS.example.com/', 'https://a.example.org/x', 'https://a.b.example.org/'])(
      'allows %s',
      (url) => {
        expect(policy.allows(new URL(url))).toBe(true);
        expect(refused(policy, url)).not.toThrow();
      },
    );

    it.each([
      'http://hooks.example.com/', // plain http
      'https://hooks.example.com:8443/', // another port
      'https://example.org/', // the apex of a wildcard
      'https://evilexample.org/',
      'https://other.example.com/',
      'ftp://hooks.example.com/',
    ])('refuses %s', (url) => {
      expect(policy.allows(new URL(url))).toBe(false);
      expect(refused(policy, url)).toThrow(CallbackNotAllowedError);
    });
  });

  describe('* (any public host)', () => {
    let policy: CallbackPolicy;
    beforeEach(() => {
      policy = new CallbackPolicy(['*']);
    });

    it.each(['https://hooks.example.com/x', 'http://hooks.example.com/x', 'http://receiver.example:8080/x', 'https://8.8.8.8/', 'http://[2606:4700:4700::1111]/'])(
      'allows %s',
      (url) => expect(policy.allows(new URL(url))).toBe(true),
    );

    it.each([
      'http://127.0.0.1:5555/',
      'http://127.1/', // WHATWG URL normalizes it to 127.0.0.1
      'http://2130706433/', // 127.0.0.1 as one number
      'http://0x7f.0.0.1/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:7f00:1]/',
      'http://10.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.64.0.1/',
      'http://0.0.0.0/',
      'http://[fe80::1]/',
      'http://[fd00::1]/',
      'ftp://hooks.example.com/',
      'file:///etc/passwd',
    ])('refuses %s by name (an IP literal needs no DNS to be judged)', (url) => {
      expect(refused(policy, url)).toThrow(CallbackNotAllowedError);
    });

    it('leaves names to the address check: localhost passes by name', () => {
      expect(policy.allows(new URL('http://localhost:5555/'))).toBe(true);
    });

    it.each(nonPublic)('refuses the resolved address %s (%s)', (address, family) => {
      expect(() => policy.assertAllowedAddress('https://hooks.example.com', address, family)).toThrow(
        CallbackNotAllowedError,
      );
    });

    it.each(publicAddresses)('accepts the resolved address %s', (address, family) => {
      expect(() => policy.assertAllowedAddress('https://hooks.example.com', address, family)).not.toThrow();
    });
  });

  describe('explicit origins', () => {
    let policy: CallbackPolicy;
    beforeEach(() => {
      policy = new CallbackPolicy(['*', 'http://127.0.0.1:5555', 'http://receiver.internal:8080', 'http://[::1]:7000']);
    });

    it('allows exactly that origin, plain http included', () => {
      expect(policy.allows(new URL('http://127.0.0.1:5555/hook?x=1'))).toBe(true);
      expect(policy.allows(new URL('http://receiver.internal:8080/hook'))).toBe(true);
      expect(policy.allows(new URL('http://[::1]:7000/'))).toBe(true);
      expect(policy.isExplicitOrigin('http://127.0.0.1:5555')).toBe(true);
    });

    it('does not extend to another port or protocol of the same host', () => {
      expect(policy.allows(new URL('http://127.0.0.1:5556/'))).toBe(false);
      expect(policy.allows(new URL('https://127.0.0.1:5555/'))).toBe(false);
      expect(policy.allows(new URL('http://[::1]:7001/'))).toBe(false);
      expect(policy.isExplicitOrigin('http://127.0.0.1:5556')).toBe(false);
    });

    it('exempts the origin from the address check, and only that origin', () => {
      expect(() => policy.assertAllowedAddress('http://127.0.0.1:5555', '127.0.0.1', 4)).not.toThrow();
      expect(() => policy.assertAllowedAddress('http://receiver.internal:8080', '10.1.2.3', 4)).not.toThrow();
      expect(() => policy.assertAllowedAddress('http://[::1]:7000', '::1', 6)).not.toThrow();
      expect(() => policy.assertAllowedAddress('https://receiver.internal', '10.1.2.3', 4)).toThrow(
        CallbackNotAllowedError,
      );
      expect(() => policy.assertAllowedAddress('http://127.0.0.1:5556', '127.0.0.1', 4)).toThrow(
        CallbackNotAllowedError,
      );
    });

    it('works without * too: nothing else is allowed then', () => {
      const only = new CallbackPolicy(['http://127.0.0.1:5555']);
      expect(only.allows(new URL('http://127.0.0.1:5555/'))).toBe(true);
      expect(only.allows(new URL('https://hooks.example.com/'))).toBe(false);
    });

    it('refuses an entry that is not an http(s) origin at set-up', () => {
      expect(() => new CallbackPolicy(['ftp://files.example.com'])).toThrow(ConfigError);
      expect(() => new CallbackPolicy(['http://'])).toThrow(ConfigError);
    });
  });

  it('says why a URL is refused', () => {
    const policy = new CallbackPolicy(['hooks.example.com']);
    const reason = (url: string) => {
      try {
        policy.assertAllowedUrl(new URL(url));
      } catch (error) {
        return (error as CallbackNotAllowedError).message;
      }
      return undefined;
    };
    expect(reason('ftp://hooks.example.com/')).toMatch(/ftp:\/\/hooks\.example\.com is not http\(s\)$/);
    expect(reason('https://10.0.0.1/')).toMatch(/is a non-public address$/);
    expect(reason('https://other.example/')).toMatch(/https:\/\/other\.example is not in WEBHOOK_ALLOWED_HOSTS$/);
    expect(reason('https://hooks.example.com/')).toBeUndefined();
    expect(() => policy.assertAllowedAddress('https://hooks.example.com', '10.9.8.7', 4)).toThrow(
      /https:\/\/hooks\.example\.com resolves to a non-public address \(10\.9\.8\.7\)/,
    );
  });

  it('reads a * entry with spaces around it as *, and names WEBHOOK_ALLOWED_HOSTS in set-up errors', () => {
    expect(new CallbackPolicy([' * ']).allows(new URL('http://receiver.example:8080/x'))).toBe(true);
    expect(() => new CallbackPolicy(['ftp://files.example.com'])).toThrow(/WEBHOOK_ALLOWED_HOSTS entry "ftp:\/\/files\.example\.com"/);
  });

  it('refuses with CALLBACK_NOT_ALLOWED: 400, final, naming the origin but not the path or query', () => {
    const policy = new CallbackPolicy(['hooks.example.com']);
    let error: unknown;
    try {
      policy.assertAllowedUrl(new URL('https://evil.example/path?token=secret'));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CallbackNotAllowedError);
    const refusal = error as CallbackNotAllowedError;
    expect(refusal.code).toBe('CALLBACK_NOT_ALLOWED');
    expect(refusal.status).toBe(400);
    expect(refusal.retryable).toBe(false);
    expect(errorCatalogue.CALLBACK_NOT_ALLOWED).toEqual({ status: 400, retryable: false });
    expect(refusal.message).toContain('https://evil.example');
    expect(refusal.message).not.toContain('secret');
    expect(refusal.message).not.toContain('/path');
  });
});
