import type { ConnectionOptions } from 'bullmq';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { QueueUnavailableError } from '@wamedia/shared';
import type { Config, RedisNode } from '../config.js';
import { reconnectDelay, redisConnectionOptions } from './connection-options.js';

/** A connection that serves commands: to the one Redis, or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Where the services find Redis: REDIS_URL, or the nodes of a cluster (REDIS_CLUSTER_NODES). */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: RedisNode[]; password: string | undefined };

/** How one connection behaves while Redis is away; unset, ioredis's defaults with {@link reconnectDelay}. */
export interface ConnectionBehaviour {
  /** False: commands sent while disconnected are refused at once instead of waiting for Redis. */
  enableOfflineQueue?: boolean;
  /** Resends of a command whose connection dropped; null: for ever (what BullMQ's blocking commands need). */
  maxRetriesPerRequest?: number | null;
  /** Connect on connect() only (a connection without an offline queue must be ready before use). */
  lazyConnect?: boolean;
  connectTimeout?: number;
  /** False: no reconnection, the connection ends with its first failure (one-shot uses). Default true. */
  reconnect?: boolean;
}

/**
 * Makes every Redis connection of a process (the API, a worker, the CLI, the start-up checks):
 * an ioredis `Redis` on REDIS_URL, or a `Cluster` on REDIS_CLUSTER_NODES, with the behaviour each
 * use asks for. BullMQ gets options for one Redis (it then owns its connections) and a Cluster
 * of its own on a cluster (BullMQ cannot build one from options): those Clusters are ended by
 * {@link close}, after the queues and workers that use them are closed.
 */
export class RedisConnector {
  private readonly handedToQueues = new Set<Cluster>();

  constructor(readonly target: RedisTarget) {}

  static fromConfig(config: Pick<Config, 'redisUrl' | 'redisCluster'>): RedisConnector {
    return new RedisConnector(
      config.redisCluster ? { kind: 'cluster', ...config.redisCluster } : { kind: 'single', url: config.redisUrl },
    );
  }

  get isCluster(): boolean {
    return this.target.kind === 'cluster';
  }

  /** Where Redis is, for messages: the URL without its password, or the cluster's nodes, and the variable that says so. */
  describe(): string {
    if (this.target.kind === 'single') return `Redis at ${redactUrl(this.target.url)} (REDIS_URL)`;
    return `Redis Cluster at ${this.target.nodes.map(nodeAddress).join(',')} (REDIS_CLUSTER_NODES)`;
  }

  /** A new connection that serves commands; the caller ends it (quit()). */
  client(behaviour: ConnectionBehaviour = {}): RedisClient {
    if (this.target.kind === 'single') return new Redis(this.target.url, redisOptions(behaviour));
    return new Cluster(this.target.nodes, clusterOptions(this.target.password, behaviour));
  }

  /**
   * The `connection` of a BullMQ queue, worker or queue events. Blocking ones (workers, queue
   * events) keep maxRetriesPerRequest null, as BullMQ requires; `behaviour` is laid over it.
   */
  queueConnection(behaviour: ConnectionBehaviour = {}): ConnectionOptions {
    if (this.target.kind === 'single') {
      return { ...redisConnectionOptions(this.target.url), ...redisOptions(behaviour) } as ConnectionOptions;
    }
    const cluster = new Cluster(this.target.nodes, clusterOptions(this.target.password, { maxRetriesPerRequest: null, ...behaviour }));
    this.handedToQueues.add(cluster);
    return cluster;
  }

  /**
   * A connection for one-shot use (start-up checks, CLI commands): no retries, so an unreachable
   * Redis is reported at once, in one line naming where it was looked for, instead of
   * reconnecting for ever.
   * @throws QueueUnavailableError naming the (password-redacted) URL or the nodes, and the reason.
   */
  async connectOnce(timeoutMs = 3_000): Promise<RedisClient> {
    const redis = this.client({ lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, reconnect: false });
    // ioredis rejects connect() with "Connection is closed."; the socket's own error says why.
    let socketError: Error | undefined;
    redis.on('error', (error: Error) => (socketError ??= error));
    try {
      await withTimeout(redis.connect(), timeoutMs * 2);
      return redis;
    } catch (error) {
      // Once ended (no retries) there is nothing to close; disconnect() then would hold the process ~2 s.
      if (redis.status !== 'end') redis.disconnect();
      const cause = socketError ?? error;
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new QueueUnavailableError(`cannot reach ${this.describe()}: ${reason}`, { cause });
    }
  }

  /** Ends the Clusters handed to BullMQ (none on one Redis: BullMQ ends its own connections). */
  async close(): Promise<void> {
    const clusters = [...this.handedToQueues];
    this.handedToQueues.clear();
    await Promise.all(clusters.map((cluster) => cluster.quit().catch(() => cluster.disconnect())));
  }
}

function redisOptions({ reconnect = true, ...behaviour }: ConnectionBehaviour): RedisOptions {
  return { ...definedOnly(behaviour), retryStrategy: reconnect ? reconnectDelay : () => null };
}

/**
 * A cluster reconnects as a whole (clusterRetryStrategy): its node connections do not, and learn
 * the topology again from any node that answers. Commands follow the slot's master.
 */
function clusterOptions(password: string | undefined, { reconnect = true, ...behaviour }: ConnectionBehaviour): ClusterOptions {
  const { enableOfflineQueue, lazyConnect, ...perNode } = definedOnly(behaviour);
  return {
    ...definedOnly({ enableOfflineQueue, lazyConnect }),
    clusterRetryStrategy: reconnect ? reconnectDelay : () => null,
    redisOptions: { ...perNode, ...(password === undefined ? {} : { password }) },
  };
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function nodeAddress({ host, port }: RedisNode): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Rejects when `promise` has not settled within `ms` (a cluster's connect() can wait on its ready check). */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The URL without its password, fit for messages. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
