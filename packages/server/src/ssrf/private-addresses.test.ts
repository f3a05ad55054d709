import { describe, expect, it } from 'vitest';

/**
 * The block list is built as the module loads. The module is imported inside each test, not at
 * the top of the file: a mistake that makes building it throw then fails these tests, where a
 * failed top-level import would only fail the file (which pnpm test:mutation counted as no test
 * failing). callback-policy.test.ts holds the policy to every edge of every range.
 */
async function isPrivateAddress(...args: Parameters<typeof import('./private-addresses.js').isPrivateAddress>) {
  const { isPrivateAddress: check } = await import('./private-addresses.js');
  return check(...args);
}

/** One address inside each range, in each form the list adds it, and one just outside. */
const ranges: [range: string, inside: string[], outside: string[]][] = [
  ['0.0.0.0/8', ['0.0.0.0', '0.255.255.255', '2002::1', '2002:ff:ffff::'], ['1.0.0.0', '2002:100::']],
  ['127.0.0.0/8', ['127.0.0.1', '127.255.255.255', '2002:7f00:1::', '2002:7fff:ffff::'], ['128.0.0.0', '126.255.255.255', '2002:8000::']],
  ['10.0.0.0/8', ['10.0.0.0', '10.255.255.255', '2002:a00::', '2002:aff:ffff::'], ['11.0.0.0', '9.255.255.255', '2002:b00::']],
  ['172.16.0.0/12', ['172.16.0.0', '172.31.255.255', '2002:ac10::', '2002:ac1f:ffff::'], ['172.32.0.0', '172.15.255.255', '2002:ac20::']],
  ['192.168.0.0/16', ['192.168.0.0', '192.168.255.255', '2002:c0a8::', '2002:c0a8:ffff::'], ['192.169.0.0', '2002:c0a9::']],
  ['169.254.0.0/16', ['169.254.169.254', '2002:a9fe:a9fe::'], ['169.255.0.0', '2002:a9ff::']],
  ['100.64.0.0/10', ['100.64.0.0', '100.127.255.255', '2002:6440::', '2002:647f:ffff::'], ['100.128.0.0', '100.63.255.255', '2002:6480::']],
  ['198.18.0.0/15', ['198.18.0.0', '198.19.255.255', '2002:c612::', '2002:c613:ffff::'], ['198.20.0.0', '198.17.255.255', '2002:c614::']],
  ['::1', ['::1'], ['::1:0:0:1']],
  ['::/96', ['::', '::ffff:ffff'], ['::1:0:0:0']],
  ['64:ff9b::/96', ['64:ff9b::', '64:ff9b::ffff:ffff'], ['64:ff9b::1:0:0', '64:ff9a::']],
  ['fc00::/7', ['fc00::', 'fdff:ffff::'], ['fe00::', 'fbff:ffff::']],
  ['fe80::/10', ['fe80::1', 'febf:ffff::'], ['fe7f:ffff::']],
  ['fec0::/10', ['fec0::1', 'feff:ffff::'], ['ff00::']],
];

describe('isPrivateAddress', () => {
  it.each(ranges)('covers %s in every form it is added, and stops at its edges', async (_range, inside, outside) => {
    for (const address of inside) expect(await isPrivateAddress(address, address.includes(':') ? 6 : 4), address).toBe(true);
    for (const address of outside) expect(await isPrivateAddress(address, address.includes(':') ? 6 : 4), address).toBe(false);
  });

  it('fails closed on what is not an address of the given family', async () => {
    expect(await isPrivateAddress('not-an-address', 4)).toBe(true);
    expect(await isPrivateAddress('not-an-address', 6)).toBe(true);
    expect(await isPrivateAddress('8.8.8.8', 'IPv6')).toBe(true);
    expect(await isPrivateAddress('2606:4700:4700::1111', 'IPv4')).toBe(true);
    expect(await isPrivateAddress('8.8.8.8', 'IPv4')).toBe(false);
    expect(await isPrivateAddress('2606:4700:4700::1111', 'IPv6')).toBe(false);
  });
});
