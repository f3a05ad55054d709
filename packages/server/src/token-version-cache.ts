import type { RedisClient } from './redis/redis-connector.js';
import { revokedChannel, type TokenVersions } from './token-versions.js';

export interface TokenVersionCacheOptions {
  /** REDIS_PREFIX: the revocation channel is `<prefix>:token-revoked`. */
  prefix: string;
  /**
   * How long a version read from Redis is trusted without another read, in ms (default 1000).
   * It bounds how late a revocation is seen should its announcement be lost (a dropped
   * subscriber connection); announcements arrive in well under that.
   */
  maxAgeMs?: number;
}

interface Entry {
  version: number;
  readAt: number;
}

const DEFAULT_MAX_AGE_MS = 1_000;

/**
 * The token versions of the instances an API serves, kept in this process so that a request's
 * token check costs no Redis round trip. A revocation (TokenVersions.revoke, from any process)
 * is announced on Redis pub/sub and drops the instance's entry at once; an entry is read again
 * after `maxAgeMs` regardless, and every entry is dropped when the subscriber connection comes
 * back after a break (announcements sent meanwhile are lost). So a revoked token is refused by
 * every API process within `maxAgeMs` at worst, usually within milliseconds.
 */
export class TokenVersionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly reading = new Map<string, Promise<number>>();
  private readonly maxAgeMs: number;
  /** Moves on at each announcement and reconnection: a read that started before one is not kept. */
  private generation = 0;

  /**
   * @param versions reads a version from Redis.
   * @param subscriber a connection of its own, put in subscriber mode; the caller closes it.
   */
  constructor(
    private readonly versions: Pick<TokenVersions, 'current' | 'revoke'>,
    subscriber: RedisClient,
    options: TokenVersionCacheOptions,
  ) {
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    const channel = revokedChannel(options.prefix);
    subscriber.on('message', (from: string, instanceId: string) => {
      if (from !== channel) return;
      this.generation++;
      this.entries.delete(instanceId);
    });
    subscriber.on('ready', () => {
      this.generation++;
      this.entries.clear();
    });
    subscriber.subscribe(channel).catch(() => undefined);
  }

  /** The current version of `instanceId`'s tokens; from memory while fresh, else one GET. */
  async current(instanceId: string): Promise<number> {
    const entry = this.entries.get(instanceId);
    if (entry && performance.now() - entry.readAt < this.maxAgeMs) return entry.version;
    return this.read(instanceId);
  }

  /**
   * Revokes every token of `instanceId` minted so far (see TokenVersions.revoke); this process
   * sees it at once, the others when the announcement reaches them.
   */
  async revoke(instanceId: string): Promise<number> {
    const version = await this.versions.revoke(instanceId);
    this.generation++;
    this.entries.delete(instanceId);
    return version;
  }

  /** One GET per instance at a time, however many requests ask meanwhile. */
  private read(instanceId: string): Promise<number> {
    let reading = this.reading.get(instanceId);
    if (!reading) {
      const readAt = performance.now();
      const generation = this.generation;
      reading = this.versions
        .current(instanceId)
        .then((version) => {
          // A revocation announced while the GET was out may be newer than its answer.
          if (generation === this.generation) this.entries.set(instanceId, { version, readAt });
          return version;
        })
        .finally(() => this.reading.delete(instanceId));
      this.reading.set(instanceId, reading);
    }
    return reading;
  }
}
