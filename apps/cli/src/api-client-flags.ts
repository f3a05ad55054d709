import { WamediaClient } from '@wamedia/client';
import { instanceIdFromToken } from './batch/token-claims.js';
import { UsageError } from './flags.js';

/** The flags of every command that calls a wamedia API (for parseFlags). */
export const apiClientFlags = {
  url: { type: 'string' },
  token: { type: 'string' },
  instance: { type: 'string' },
} as const;

/** The lines of a command's usage that describe {@link apiClientFlags}. */
export const apiClientUsage = `  --url <url>               the API (default: WAMEDIA_URL, else http://localhost:8083)
  --token <jwt>             bearer token (default: WAMEDIA_TOKEN)
  --instance <id>           the instance (default: the token's instanceId claim)`;

/**
 * A client of the API the flags name: --url (WAMEDIA_URL, else http://localhost:8083), --token
 * (WAMEDIA_TOKEN), --instance (the token's instanceId claim).
 * @throws UsageError when one is missing or malformed.
 */
export function apiClientFromFlags(flags: { url?: string; token?: string; instance?: string }): WamediaClient {
  const token = flags.token ?? process.env.WAMEDIA_TOKEN;
  if (!token) throw new UsageError('missing --token (or WAMEDIA_TOKEN)');
  const instanceId = flags.instance ?? instanceIdFromToken(token);
  if (!instanceId) throw new UsageError('missing --instance (the token carries no instanceId claim)');
  const baseUrl = flags.url ?? process.env.WAMEDIA_URL ?? 'http://localhost:8083';
  if (!/^https?:\/\/[^/]/.test(baseUrl)) throw new UsageError(`--url: must be an http(s) URL (got "${baseUrl}")`);
  return new WamediaClient({ baseUrl, token, instanceId });
}
