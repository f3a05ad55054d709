import { ConfigError, HostNotAllowedError } from '@wamedia/shared';
import { isPrivateAddress, type AddressFamily } from './private-addresses.js';

/**
 * MEDIA_ALLOWED_HOSTS: which origins a CDN url (or a redirect) may point at, checked twice.
 *
 * - By name, before each request and each redirect hop ({@link assertAllowed}):
 *   - `mmg.whatsapp.net` allows https://mmg.whatsapp.net (port 443 only);
 *   - `*.whatsapp.net` allows https on any subdomain of whatsapp.net (not the apex);
 *   - `http://127.0.0.1:9000` (an explicit origin) allows exactly that origin, plain http included.
 * - By address, on the IP a URL names or every address its host resolves to, right before
 *   connecting ({@link assertAllowedAddress}): loopback, private, link-local, unspecified and
 *   CGNAT addresses (see isPrivateAddress) are refused unless the origin is an explicit one. An
 *   allowed name is no promise about where it points: a DNS record (or a rebinding answer) may
 *   say 127.0.0.1 or 169.254.169.254.
 */
export class HostAllowList {
  private readonly hostnames = new Set<string>();
  /** `.example.com` for `*.example.com`. */
  private readonly suffixes = new Set<string>();
  private readonly origins = new Set<string>();

  /**
   * @param setting the variable the entries come from, named in errors.
   * @throws ConfigError for an entry with `://` that is not an http(s) origin.
   */
  constructor(entries: readonly string[], setting = 'MEDIA_ALLOWED_HOSTS') {
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase();
      if (entry.includes('://')) this.origins.add(parseOrigin(entry, setting));
      else if (entry.startsWith('*.')) this.suffixes.add(entry.slice(1));
      else this.hostnames.add(entry);
    }
  }

  /** Whether `origin` (`http://host:port`, as URL.origin spells it) is one of the explicit origins. */
  isExplicitOrigin(origin: string): boolean {
    return this.origins.has(origin);
  }

  /** Whether a request to `url` may be sent. */
  allows(url: URL): boolean {
    if (this.origins.has(url.origin)) return true;
    if (url.protocol !== 'https:' || url.port !== '') return false;
    const host = url.hostname.toLowerCase();
    return this.hostnames.has(host) || this.isSubdomainOfSuffix(host);
  }

  private isSubdomainOfSuffix(host: string): boolean {
    for (const suffix of this.suffixes) if (host.endsWith(suffix)) return true;
    return false;
  }

  /** @throws HostNotAllowedError when `url` is not allowed. */
  assertAllowed(url: URL): void {
    if (!this.allows(url)) throw new HostNotAllowedError(url.origin);
  }

  /**
   * Checks one address `origin`'s host resolved to (or the IP literal it names), before a
   * connection to it is opened.
   * @throws HostNotAllowedError when the address is not public and `origin` is not explicit. The
   *   message does not name the address: it reaches the client, and internal addresses are none of
   *   its business.
   */
  assertAllowedAddress(origin: string, address: string, family: AddressFamily): void {
    if (this.origins.has(origin) || !isPrivateAddress(address, family)) return;
    throw new HostNotAllowedError(origin, 'resolves to a non-public address');
  }
}

function parseOrigin(entry: string, setting: string): string {
  try {
    const url = new URL(entry);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  } catch {
    // reported below
  }
  throw new ConfigError([`${setting} entry "${entry}" is not an http(s) origin`]);
}
