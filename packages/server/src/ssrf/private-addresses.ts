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

const ipv4Ranges: [string, number][] = [
  ['0.0.0.0', 8], // "this network": 0.0.0.0 reaches this host on Linux
  ['127.0.0.0', 8], // loopback
  ['10.0.0.0', 8], // private
  ['172.16.0.0', 12], // private
  ['192.168.0.0', 16], // private
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['100.64.0.0', 10], // carrier-grade NAT (RFC 6598)
  ['198.18.0.0', 15], // benchmarking (RFC 2544): often routed to lab and internal networks
];
for (const [network, prefix] of ipv4Ranges) {
  privateRanges.addSubnet(network, prefix, 'ipv4');
  // 6to4 (2002::/16) carries an IPv4 address in its next 32 bits, and a relay may route it
  // there: 2002:7f00:1:: is 127.0.0.1 by another name. Public IPv4s embedded stay public.
  privateRanges.addSubnet(sixToFour(network), 16 + prefix, 'ipv6');
}
// IPv6
privateRanges.addAddress('::1', 'ipv6'); // loopback
privateRanges.addSubnet('::', 96, 'ipv6'); // unspecified, and the deprecated IPv4-compatible ::a.b.c.d
privateRanges.addSubnet('64:ff9b::', 96, 'ipv6'); // NAT64 (RFC 6052): a translator reaches any IPv4, private ones included
privateRanges.addSubnet('fc00::', 7, 'ipv6'); // unique local
privateRanges.addSubnet('fe80::', 10, 'ipv6'); // link-local
privateRanges.addSubnet('fec0::', 10, 'ipv6'); // site-local (deprecated, still routed inside some networks)

/** The 6to4 prefix of an IPv4 address: 2002:AABB:CCDD::. */
function sixToFour(ipv4: string): string {
  const [a, b, c, d] = ipv4.split('.').map(Number) as [number, number, number, number];
  const hex = (high: number, low: number) => ((high << 8) | low).toString(16);
  return `2002:${hex(a, b)}:${hex(c, d)}::`;
}

/**
 * Whether `address` is loopback, private, link-local, unspecified or carrier-grade NAT, in IPv4,
 * IPv6 or IPv4-mapped IPv6 form. Fails closed: an address that is not an IP, or whose form does
 * not match `family`, counts as private.
 */
export function isPrivateAddress(address: string, family: AddressFamily): boolean {
  const version = isIP(address);
  // Not an IP at all (version 0) never matches a family either.
  if (version !== familyVersion(family)) return true;
  return privateRanges.check(address, version === 6 ? 'ipv6' : 'ipv4');
}

function familyVersion(family: AddressFamily): 4 | 6 {
  return family === 6 || family === 'IPv6' ? 6 : 4;
}
