import { BlockList, isIP } from 'node:net';

/**
 * The addresses a request sent on a client's say (a callback URL, later maybe a CDN url) must
 * never reach: this host, the local networks and the cloud metadata endpoints (169.254.169.254).
 */

/** An address family as dns.lookup (4, 6) or a socket ('IPv4', 'IPv6') reports it. */
export type AddressFamily = 4 | 6 | 'IPv4' | 'IPv6';

/**
 * Built once. net.BlockList also matches the IPv4-mapped IPv6 forms of the IPv4 ranges
 * (`::ffff:127.0.0.1`, `::ffff:7f00:1`): the tests hold it to that.
 */
const privateRanges = new BlockList();
// IPv4
privateRanges.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network": 0.0.0.0 reaches this host on Linux
privateRanges.addSubnet('127.0.0.0', 8, 'ipv4'); // loopback
privateRanges.addSubnet('10.0.0.0', 8, 'ipv4'); // private
privateRanges.addSubnet('172.16.0.0', 12, 'ipv4'); // private
privateRanges.addSubnet('192.168.0.0', 16, 'ipv4'); // private
privateRanges.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, cloud metadata
privateRanges.addSubnet('100.64.0.0', 10, 'ipv4'); // carrier-grade NAT (RFC 6598)
// IPv6
privateRanges.addAddress('::', 'ipv6'); // unspecified
privateRanges.addAddress('::1', 'ipv6'); // loopback
privateRanges.addSubnet('fc00::', 7, 'ipv6'); // unique local
privateRanges.addSubnet('fe80::', 10, 'ipv6'); // link-local

/**
 * Whether `address` is loopback, private, link-local, unspecified or carrier-grade NAT, in IPv4,
 * IPv6 or IPv4-mapped IPv6 form. Fails closed: an address that is not an IP, or whose form does
 * not match `family`, counts as private.
 */
export function isPrivateAddress(address: string, family: AddressFamily): boolean {
  const version = isIP(address);
  if (version === 0 || version !== familyVersion(family)) return true;
  return privateRanges.check(address, version === 6 ? 'ipv6' : 'ipv4');
}

function familyVersion(family: AddressFamily): 4 | 6 {
  return family === 6 || family === 'IPv6' ? 6 : 4;
}
