import { isIPv6 } from 'node:net';
import type { Request } from 'express';

/** A Host header as a client sends it for a name or an address, with any port. */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * Where clients reach this API, for the links it signs: PUBLIC_BASE_URL when set (behind a proxy
 * that terminates TLS or adds a path prefix, it must be), else the scheme and Host of `req`. A
 * request with no usable Host (HTTP/1.0) gets the address it reached us at: a link only goes back
 * to whoever asked, so the Host is theirs to choose either way.
 */
export function publicOrigin(req: Request, publicBaseUrl: string | undefined): string {
  if (publicBaseUrl) return publicBaseUrl;
  const host = req.get('host');
  return `${req.protocol}://${host && HOST.test(host) ? host : localAddress(req)}`;
}

function localAddress(req: Request): string {
  const { localAddress: address = '127.0.0.1', localPort } = req.socket;
  return `${isIPv6(address) ? `[${address}]` : address}:${localPort}`;
}
