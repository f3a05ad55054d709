import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';

/**
 * Judges one address a connection is about to be opened to.
 * @param origin `protocol//host[:port]` of the request, as URL.origin spells it.
 * @param address the IP literal the URL names, or one address its host resolved to.
 * @throws the refusal, which fails the connection before any socket is opened.
 */
export type AddressCheck = (origin: string, address: string, family: 4 | 6) => void;

/** Options of {@link guardedConnector}. */
export interface GuardedConnectorOptions {
  /** Called on every address before connecting to it; throws to refuse. */
  check: AddressCheck;
  /** Longest wait for a connection (DNS, TCP, and TLS for https), in ms. */
  timeoutMs: number;
  /** Resolves host names. Default: dns.lookup. Tests map names to chosen addresses with it. */
  lookup?: LookupFunction;
}

/**
 * undici's connector (the `connect` option of an Agent), with an address check in front of every
 * connection: on the IP literal a URL names, or on each address its host resolves to, in the very
 * lookup the socket then connects with. The check and the connect see the same answer, so a name
 * cannot resolve to something else in between (DNS rebinding). A refusal fails the connection
 * before any socket is opened; undici hands the check's error to the request as it is.
 *
 * One connector is built per connection because the lookup must know the origin (a check may
 * exempt explicit origins) and undici takes the lookup at build time; that is cheap, and
 * connections are kept alive.
 */
export function guardedConnector({ check, timeoutMs, lookup = dnsLookup }: GuardedConnectorOptions): buildConnector.connector {
  return (options, callback) => {
    const origin = originOf(options);
    const family = isIP(options.hostname);
    if (family === 4 || family === 6) {
      try {
        check(origin, options.hostname, family);
      } catch (refusal) {
        process.nextTick(callback, refusal as Error, null);
        return;
      }
    }
    buildConnector({ timeout: timeoutMs, lookup: checkedLookup(lookup, check, origin) })(options, callback);
  };
}

/** `lookup`, failing with the check's error when any resolved address is refused. */
function checkedLookup(lookup: LookupFunction, check: AddressCheck, origin: string): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      try {
        const addresses = typeof address === 'string' ? [{ address, family }] : address;
        for (const resolved of addresses) check(origin, resolved.address, resolved.family === 6 ? 6 : 4);
      } catch (refusal) {
        return callback(refusal as NodeJS.ErrnoException, '', 0);
      }
      callback(null, address, family);
    });
  };
}

/** `protocol//host[:port]` as URL.origin spells it; undici's `host` keeps IPv6 brackets and the port. */
function originOf({ protocol, host, hostname, port }: buildConnector.Options): string {
  if (host) return `${protocol}//${host}`;
  return new URL(`${protocol}//${isIP(hostname) === 6 ? `[${hostname}]` : hostname}${port ? `:${port}` : ''}`).origin;
}

/** Options of {@link guardedAgent}. */
export interface GuardedAgentOptions extends GuardedConnectorOptions {
  /** Longest silence while reading a response (until its headers, then between body chunks), in ms. */
  idleTimeoutMs: number;
}

/**
 * An undici Agent whose every connection goes through {@link guardedConnector}. It follows no
 * redirect (there is no redirect interceptor): callers that follow them check each hop themselves.
 */
export function guardedAgent({ idleTimeoutMs, ...connector }: GuardedAgentOptions): Agent {
  return new Agent({ connect: guardedConnector(connector), headersTimeout: idleTimeoutMs, bodyTimeout: idleTimeoutMs });
}
