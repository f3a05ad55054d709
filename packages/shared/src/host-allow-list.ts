import { HostNotAllowedError } from './errors.js';

/**
 * MEDIA_ALLOWED_HOSTS: which origins a CDN url (or a redirect) may point at.
 *
 * - `mmg.whatsapp.net` allows https://mmg.whatsapp.net (port 443 only);
 * - `*.whatsapp.net` allows https on any subdomain of whatsapp.net (not the apex);
 * - `http://127.0.0.1:9000` (an explicit origin) allows exactly that origin, plain http included.
 */
export class HostAllowList {
  private readonly hostnames = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly origins = new Set<string>();

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase();
      if (entry.includes('://')) this.origins.add(new URL(entry).origin);
      else if (entry.startsWith('*.')) this.suffixes.push(entry.slice(1));
      else this.hostnames.add(entry);
    }
  }

  /** Whether a request to `url` may be sent. */
  allows(url: URL): boolean {
    if (this.origins.has(url.origin)) return true;
    if (url.protocol !== 'https:' || url.port !== '') return false;
    const host = url.hostname.toLowerCase();
    return this.hostnames.has(host) || this.suffixes.some((suffix) => host.endsWith(suffix));
  }

  /** @throws HostNotAllowedError when `url` is not allowed. */
  assertAllowed(url: URL): void {
    if (!this.allows(url)) throw new HostNotAllowedError(url.origin);
  }
}
