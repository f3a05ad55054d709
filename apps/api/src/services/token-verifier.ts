import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { type TokenVersions } from '@wamedia/server';
import { ForbiddenError, UnauthorizedError } from '@wamedia/shared';

/** Options of {@link TokenVerifier}; the JWT_* settings. */
export interface TokenVerifierOptions {
  /** JWT_SECRET: the HS256 key. */
  secret: string;
  /** JWT_CLOCK_SKEW_SECONDS: leeway on `exp` and `nbf`, in seconds. */
  clockSkewSeconds: number;
  /** JWT_ISSUER: when set, `iss` must equal it. */
  issuer?: string;
  /** JWT_AUDIENCE: when set, `aud` must be it or a list containing it. */
  audience?: string;
  /**
   * JWT_MAX_LIFETIME_SECONDS: when set, a token must have an `exp`, at most this many seconds
   * after its `iat` and (so that a made-up `iat` cannot stretch it) after now, give or take the skew.
   */
  maxLifetimeSeconds?: number;
  /**
   * JWT_ALLOW_NO_EXP: accept a token without `exp` (one that never expires); refused by default.
   * `maxLifetimeSeconds` refuses them whatever this says.
   */
  allowNoExp?: boolean;
  /** The current token version of each instance: a token whose `ver` is below it is revoked. */
  versions: Pick<TokenVersions, 'current'>;
}

/** The claims the API relies on, checked. */
interface InstanceClaims {
  instanceId: string;
  /** The token version it was minted with; 0 when the token has no `ver`. */
  ver: number;
}

/**
 * Checks instance tokens (JWTs), in this order:
 * 1. the signature, HS256 with the secret: the algorithm is pinned so a token can't pick its own
 *    ("none", another HMAC, or an asymmetric one verified with the secret as a public key);
 * 2. `exp` and `nbf`, each with the clock skew;
 * 3. `instanceId`, `ver`, and `iss`, `aud` and the lifetime when configured (401 when wrong);
 * 4. the instance asked for equals the token's (else 403);
 * 5. `ver` is not below the instance's current token version (else 401, revoked), as `versions`
 *    reports it (a TokenVersionCache: see there how soon a revocation is seen).
 *
 * A client sends the same token with every request, so a token that passed 1 and 3 is remembered
 * (the last {@link VERIFIED_TOKENS} of them) and only its dates, instance and version are checked
 * again: the signature and the claims of a given token never change.
 */
export class TokenVerifier {
  // Built once: the same options for every token.
  private readonly verifyOptions: jwt.VerifyOptions & { complete?: false };
  /** jsonwebtoken turns a string secret into a key on every call; a KeyObject it takes as it is. */
  private readonly key: KeyObject;
  private readonly verified = new Map<string, VerifiedToken>();

  constructor(private readonly options: TokenVerifierOptions) {
    this.verifyOptions = { algorithms: ['HS256'], clockTolerance: options.clockSkewSeconds };
    this.key = createSecretKey(Buffer.from(options.secret));
  }

  /**
   * Checks `token` for `instanceId`; resolves with the instance it was checked for.
   * @throws UnauthorizedError or ForbiddenError naming the first check that failed.
   */
  async verify(token: string, instanceId: string): Promise<string> {
    const claims = this.verifySignedClaims(token);
    if (claims.instanceId !== instanceId) {
      throw new ForbiddenError('this token belongs to another instance');
    }
    if (claims.ver < (await this.options.versions.current(claims.instanceId))) {
      throw new UnauthorizedError("the token has been revoked: its instance's tokens were revoked after it was made");
    }
    return claims.instanceId;
  }

  private verifySignedClaims(token: string): InstanceClaims {
    const known = this.verified.get(token);
    if (known && Date.now() < known.expiresAtMs) return known.claims;
    if (known) this.verified.delete(token);
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, this.key, this.verifyOptions);
    } catch (error) {
      throw refusal(error, token);
    }
    if (typeof payload !== 'object') throw new UnauthorizedError('the token has no instanceId claim');
    const claims = checkClaims(payload, this.options);
    this.remember(token, claims, payload.exp);
    return claims;
  }

  /**
   * Remembers a token that passed until it expires (with the skew, as jwt.verify counts it). Its
   * nbf has passed already and stays passed; its lifetime was checked against its own exp and iat.
   */
  private remember(token: string, claims: InstanceClaims, exp: number | undefined): void {
    const expiresAtMs = exp === undefined ? Number.POSITIVE_INFINITY : (exp + this.options.clockSkewSeconds) * 1000;
    if (this.verified.size >= VERIFIED_TOKENS) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { claims, expiresAtMs });
  }
}

/** How many verified tokens are remembered: the oldest is forgotten first. */
const VERIFIED_TOKENS = 10_000;

interface VerifiedToken {
  claims: InstanceClaims;
  /** When the token stops being accepted, in ms since the epoch. */
  expiresAtMs: number;
}

/** The claims beyond signature and dates. @throws UnauthorizedError naming the first one wrong. */
function checkClaims(payload: jwt.JwtPayload, options: TokenVerifierOptions): InstanceClaims {
  const { instanceId, ver = 0 } = payload as { instanceId?: unknown; ver?: unknown };
  if (typeof instanceId !== 'string' || !instanceId) {
    throw new UnauthorizedError('the token has no instanceId claim');
  }
  if (typeof ver !== 'number' || !Number.isSafeInteger(ver) || ver < 0) {
    throw new UnauthorizedError('the token is invalid: its ver claim must be a whole number');
  }
  if (options.issuer !== undefined && payload.iss !== options.issuer) {
    throw new UnauthorizedError('the token is not from the expected issuer (iss)');
  }
  if (options.audience !== undefined && !namesAudience(payload.aud, options.audience)) {
    throw new UnauthorizedError('the token is not meant for this API (aud)');
  }
  if (options.maxLifetimeSeconds !== undefined) checkLifetime(payload, options.maxLifetimeSeconds, options.clockSkewSeconds);
  // A token without exp is good for ever: a leaked one only a revocation of the whole instance ends.
  else if (typeof payload.exp !== 'number' && !options.allowNoExp) throw new UnauthorizedError('the token must expire: it has no exp');
  return { instanceId, ver };
}

function namesAudience(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}

/** @throws UnauthorizedError when the token has no exp, or lives longer than `maxSeconds`. */
function checkLifetime(payload: jwt.JwtPayload, maxSeconds: number, skewSeconds: number): void {
  const { exp, iat } = payload;
  if (typeof exp !== 'number') {
    throw new UnauthorizedError(`the token must expire: it needs an exp at most ${maxSeconds} s after its iat`);
  }
  const now = Math.floor(Date.now() / 1000);
  const tooLong = (typeof iat === 'number' && exp - iat > maxSeconds) || exp - now > maxSeconds + skewSeconds;
  if (tooLong) throw new UnauthorizedError(`the token lives too long: at most ${maxSeconds} s are accepted`);
}

/** Why jsonwebtoken refused the token, in words a client can act on. */
function refusal(error: unknown, token: string): UnauthorizedError {
  if (error instanceof jwt.TokenExpiredError) return new UnauthorizedError('the token has expired', { cause: error });
  if (error instanceof jwt.NotBeforeError) return new UnauthorizedError('the token is not valid yet (nbf)', { cause: error });
  if (headerAlgorithm(token) !== 'HS256') {
    return new UnauthorizedError('the token is invalid: it must be signed with HS256', { cause: error });
  }
  return new UnauthorizedError('the token is invalid', { cause: error });
}

/** The `alg` of a token's header, when it has a readable one. */
function headerAlgorithm(token: string): unknown {
  try {
    return (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { alg?: unknown } | null)?.alg;
  } catch {
    return undefined;
  }
}
