import { InternalError } from '@wamedia/shared';
import type { RedisClient, RedisConnector } from './redis/redis-connector.js';

/**
 * The token version of each instance, in Redis at `<prefix>:token-version:<instanceId>` (absent
 * means 0). A bearer token carries the version it was minted with in its `ver` claim (absent
 * means 0); the API refuses a token whose `ver` is below its instance's current version. Bumping
 * the version therefore revokes every token of that instance at once, while tokens minted after
 * the bump (with the new version) work. Redis must keep its data (AOF): a lost key is version 0,
 * which makes revoked tokens valid again. Each revocation is also published on
 * `<prefix>:token-revoked` (the instanceId), so that caches of the versions (TokenVersionCache)
 * drop it at once.
 */
export class TokenVersions {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  /**
   * The current version of `instanceId`'s tokens: one GET.
   */
  async current(instanceId: string): Promise<number> {
    const value = await this.redis.get(this.key(instanceId));
    if (value === null) return 0;
    const version = Number(value);
    // Fail closed: a value that is no version must not let every token through (ver < NaN is false).
    if (!Number.isSafeInteger(version)) throw new InternalError(`the token version of ${instanceId} in Redis is not an integer`);
    return version;
  }

  /**
   * Revokes every token of `instanceId` minted so far: increments its version (atomically, INCR),
   * announces it on {@link revokedChannel}, and returns the new version, which tokens minted from
   * now on carry.
   */
  async revoke(instanceId: string): Promise<number> {
    const results = await this.redis.multi().incr(this.key(instanceId)).publish(revokedChannel(this.prefix), instanceId).exec();
    const [error, version] = results?.[0] ?? [new InternalError('the revocation was not applied')];
    if (error) throw error;
    return version as number;
  }

  private key(instanceId: string): string {
    return `${this.prefix}:token-version:${instanceId}`;
  }
}

/** The pub/sub channel on which each revocation names its instance. */
export function revokedChannel(prefix: string): string {
  return `${prefix}:token-revoked`;
}

/** {@link TokenVersions} on a connection of their own, for one-shot commands (the CLI). */
export interface TokenVersionsConnection {
  versions: TokenVersions;
  close(): Promise<void>;
}

/**
 * Connects to Redis (or the cluster) for a one-shot use of the token versions (see RedisConnector.connectOnce).
 * @throws QueueUnavailableError with one line naming the (password-redacted) REDIS_URL, or REDIS_CLUSTER_NODES.
 */
export async function connectTokenVersions(connector: RedisConnector, prefix: string, timeoutMs = 3_000): Promise<TokenVersionsConnection> {
  const redis = await connector.connectOnce(timeoutMs);
  return {
    versions: new TokenVersions(redis, prefix),
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
