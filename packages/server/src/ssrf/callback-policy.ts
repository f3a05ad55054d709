import { isIP } from 'node:net';
import { CallbackNotAllowedError } from '@wamedia/shared';
import { HostAllowList } from './host-allow-list.js';
import { isPrivateAddress, type AddressFamily } from './private-addresses.js';

/**
 * WEBHOOK_ALLOWED_HOSTS: where a callback URL may point, checked twice.
 *
 * - By name, when a batch is submitted and again before each POST ({@link assertAllowedUrl}):
 *   - `hooks.example.com` allows https://hooks.example.com (port 443 only);
 *   - `*.example.com` allows https on any subdomain of example.com (not the apex);
 *   - `http://127.0.0.1:5555` (an explicit origin) allows exactly that origin, plain http included;
 *   - `*` allows any host, over http or https, on any port.
 * - By address, for every address a name resolves to, right before connecting
 *   ({@link assertAllowedAddress}): loopback, private, link-local, unspecified and CGNAT addresses
 *   (see isPrivateAddress) are refused unless the URL's origin is one of the explicit origins.
 *   Checking the resolved address, not the name, is what stops a public name that resolves (or
 *   re-resolves, DNS rebinding) to an internal address.
 */
export class CallbackPolicy {
  private readonly anyHost: boolean;
  /** Everything but `*` means what it means in MEDIA_ALLOWED_HOSTS. */
  private readonly names: HostAllowList;

  /** @throws ConfigError for an entry with `://` that is not an http(s) origin. */
  constructor(entries: readonly string[]) {
    const listed = entries.filter((entry) => entry.trim() !== '*');
    this.anyHost = listed.length < entries.length;
    this.names = new HostAllowList(listed, 'WEBHOOK_ALLOWED_HOSTS');
  }

  /** Whether `origin` (`http://host:port`, as URL.origin spells it) is one of the explicit origins. */
  isExplicitOrigin(origin: string): boolean {
    return this.names.isExplicitOrigin(origin);
  }

  /**
   * Whether `url` may be called, judged by its protocol, name and port. An IP literal outside the
   * public ranges is refused here already, unless its origin is explicit.
   */
  allows(url: URL): boolean {
    return this.refusal(url) === undefined;
  }

  /** @throws CallbackNotAllowedError when `url` is not allowed by name. */
  assertAllowedUrl(url: URL): void {
    const reason = this.refusal(url);
    if (reason !== undefined) throw new CallbackNotAllowedError(url.origin, reason);
  }

  /**
   * Checks one address `origin`'s host resolved to (or the IP literal it names), before a
   * connection to it is opened.
   * @throws CallbackNotAllowedError when the address is not public and `origin` is not explicit.
   */
  assertAllowedAddress(origin: string, address: string, family: AddressFamily): void {
    if (this.isExplicitOrigin(origin) || !isPrivateAddress(address, family)) return;
    throw new CallbackNotAllowedError(origin, `resolves to a non-public address (${address})`);
  }

  /** Why `url` is refused by name, or undefined when it is allowed. */
  private refusal(url: URL): string | undefined {
    if (this.isExplicitOrigin(url.origin)) return undefined;
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'is not http(s)';
    const literal = ipLiteral(url.hostname);
    if (literal && isPrivateAddress(literal.address, literal.family)) return 'is a non-public address';
    if (this.anyHost || this.names.allows(url)) return undefined;
    return 'is not in WEBHOOK_ALLOWED_HOSTS';
  }
}

/** The address of an IP-literal hostname (`[::1]` unbracketed), or undefined for a name. */
function ipLiteral(hostname: string): { address: string; family: 4 | 6 } | undefined {
  const address = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const family = isIP(address);
  return family === 4 || family === 6 ? { address, family } : undefined;
}
