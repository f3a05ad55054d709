/**
 * JWTs for the tests, signed with node:crypto (the test package does not depend on
 * jsonwebtoken): HS256 as the API expects, and the malformed kinds the auth tests send.
 */
import { createHmac } from 'node:crypto';

export interface TokenOptions {
  /** Secret to sign with; the stack's JWT_SECRET by default. */
  secret?: string;
  /** Seconds from now until `exp`; negative makes an expired token. No `exp` when absent. */
  expiresInSeconds?: number;
  /** `alg` of the header; "none" produces an unsigned token (empty signature). Default HS256. */
  alg?: 'HS256' | 'HS384' | 'none';
  /** Extra or replacing claims (e.g. `{ instanceId: 42 }`). */
  claims?: Record<string, unknown>;
}

/** A JWT carrying `{instanceId}` (plus `iat`, and `exp` when asked). */
export function signToken(instanceId: string, defaultSecret: string, options: TokenOptions = {}): string {
  const alg = options.alg ?? 'HS256';
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { instanceId, iat: now, ...options.claims };
  if (options.expiresInSeconds !== undefined) payload.exp = now + options.expiresInSeconds;
  const signingInput = `${base64url({ alg, typ: 'JWT' })}.${base64url(payload)}`;
  if (alg === 'none') return `${signingInput}.`;
  const hash = alg === 'HS256' ? 'sha256' : 'sha384';
  const signature = createHmac(hash, options.secret ?? defaultSecret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

function base64url(json: unknown): string {
  return Buffer.from(JSON.stringify(json)).toString('base64url');
}
