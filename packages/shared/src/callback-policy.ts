import { isIP } from 'node:net';
import { CallbackNotAllowedError, ConfigError } from './errors.js';
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
  private readonly anyHost: boolean = false;
  private readonly hostnames = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly origins = new Set<string>();

  /** @throws ConfigError for an entry with `://` that is not an http(s) origin. */
  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase();
      if (entry === '*') this.anyHost = true;
      else if (entry.includes('://')) this.origins.add(parseOrigin(raw));
      else if (entry.startsWith('*.')) this.suffixes.push(entry.slice(1));
      else this.hostnames.add(entry);
    }
  }

  /** Whether `origin` (`http://host:port`, as URL.origin spells it) is one of the explicit origins. */
  isExplicitOrigin(origin: string): boolean {
    return this.origins.has(origin);
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
    if (this.origins.has(origin) || !isPrivateAddress(address, family)) return;
    throw new CallbackNotAllowedError(origin, `resolves to a non-public address (${address})`);
  }

  /** Why `url` is refused by name, or undefined when it is allowed. */
  private refusal(url: URL): string | undefined {
    if (this.origins.has(url.origin)) return undefined;
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'is not http(s)';
    const literal = ipLiteral(url.hostname);
    if (literal && isPrivateAddress(literal.address, literal.family)) return 'is a non-public address';
    if (this.anyHost) return undefined;
    if (url.protocol === 'https:' && url.port === '' && this.namesHost(url.hostname)) return undefined;
    return 'is not in WEBHOOK_ALLOWED_HOSTS';
  }

  private namesHost(hostname: string): boolean {
    const host = hostname.toLowerCase();
    return this.hostnames.has(host) || this.suffixes.some((suffix) => host.endsWith(suffix));
  }
}

function parseOrigin(entry: string): string {
  try {
    const url = new URL(entry.trim());
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  } catch {
    // reported below
  }
  throw new ConfigError([`WEBHOOK_ALLOWED_HOSTS entry "${entry}" is not an http(s) origin`]);
}

/** The address of an IP-literal hostname (`[::1]` unbracketed), or undefined for a name. */
function ipLiteral(hostname: string): { address: string; family: 4 | 6 } | undefined {
  const address = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const family = isIP(address);
  return family === 4 || family === 6 ? { address, family } : undefined;
}
