/**
 * JWTs for the tests, signed with node:crypto (the test package does not depend on
 * jsonwebtoken): HS256 as the API expects, and the malformed kinds the auth tests send.
 */
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export interface TokenOptions {
  /** Secret to sign with; the stack's JWT_SECRET by default. */
  secret?: string;
  /**
   * Seconds from now until `exp`; negative makes an expired token. An hour when absent (the API
   * refuses tokens without exp unless JWT_ALLOW_NO_EXP); null for a token without `exp`.
   */
  expiresInSeconds?: number | null;
  /**
   * `alg` of the header; "none" produces an unsigned token (empty signature); RS256 signs with
   * `privateKey` (a key pair made once per process by default). Default HS256.
   */
  alg?: 'HS256' | 'HS384' | 'RS256' | 'none';
  /** The RSA key of an RS256 token. */
  privateKey?: KeyObject;
  /** Extra or replacing claims (e.g. `{ instanceId: 42 }`). */
  claims?: Record<string, unknown>;
}

/** A JWT carrying `{instanceId}`, `iat` and `exp` (see TokenOptions). */
export function signToken(instanceId: string, defaultSecret: string, options: TokenOptions = {}): string {
  const alg = options.alg ?? 'HS256';
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { instanceId, iat: now, ...options.claims };
  if (typeof options.expiresInSeconds === 'number') payload.exp = now + options.expiresInSeconds;
  else if (options.expiresInSeconds === undefined && !('exp' in (options.claims ?? {}))) payload.exp = now + 3600;
  const signingInput = `${base64url({ alg, typ: 'JWT' })}.${base64url(payload)}`;
  if (alg === 'none') return `${signingInput}.`;
  if (alg === 'RS256') {
    const key = options.privateKey ?? (rsaKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    return `${signingInput}.${sign('sha256', Buffer.from(signingInput), key).toString('base64url')}`;
  }
  const hash = alg === 'HS256' ? 'sha256' : 'sha384';
  const signature = createHmac(hash, options.secret ?? defaultSecret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

let rsaKey: KeyObject | undefined;

function base64url(json: unknown): string {
  return Buffer.from(JSON.stringify(json)).toString('base64url');
}
