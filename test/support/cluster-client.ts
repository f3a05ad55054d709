/**
 * The tests' look at a Redis Cluster (`pnpm test:cluster`): the same few calls as RedisClient,
 * on an ioredis Cluster made by the services' own RedisConnector, which follows each key to the
 * master of its slot. SCAN visits every master.
 */
import { RedisConnector, type RedisNode } from '@wamedia/server';
import { keyContents, type RedisReply, type TestRedis } from './redis-client.js';

export class ClusterClient implements TestRedis {
  private constructor(private readonly cluster: ClusterConnection) {}

  /** Connects to the cluster of `nodes` (`host:port,host:port`) with its password. */
  static async connect(nodes: string, password: string | undefined): Promise<ClusterClient> {
    const connector = new RedisConnector({ kind: 'cluster', nodes: parseNodes(nodes), password });
    const client = connector.client({ lazyConnect: true, maxRetriesPerRequest: 3 });
    if (!('nodes' in client)) throw new Error('RedisConnector made no Cluster for a cluster target');
    await client.connect();
    return new ClusterClient(client);
  }

  command(...args: (string | number)[]): Promise<RedisReply> {
    const [name, ...rest] = args;
    return this.cluster.call(String(name), ...rest) as Promise<RedisReply>;
  }

  async scan(pattern: string): Promise<string[]> {
    const byMaster = await this.keysByMaster(pattern);
    return [...new Set([...byMaster.values()].flat())];
  }

  /** Deletes one key at a time: keys of several slots may not go in one DEL on a cluster. */
  async deleteMatching(pattern: string): Promise<number> {
    let deleted = 0;
    for (const key of await this.scan(pattern)) deleted += await this.cluster.del(key);
    return deleted;
  }

  contents(key: string): Promise<{ type: string; values: string[] }> {
    return keyContents((...args) => this.command(...args), key);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.cluster.exists(key)) === 1;
  }

  /** The slot of `key` (CLUSTER KEYSLOT). */
  async slotOf(key: string): Promise<number> {
    return (await this.cluster.cluster('KEYSLOT', key)) as number;
  }

  /** The masters' addresses, each with the keys matching `pattern` it holds. */
  async keysByMaster(pattern: string): Promise<Map<string, string[]>> {
    const byMaster = new Map<string, string[]>();
    for (const master of this.cluster.nodes('master')) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await master.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
      byMaster.set(`${master.options.host}:${master.options.port}`, keys);
    }
    return byMaster;
  }

  async close(): Promise<void> {
    await this.cluster.quit().catch(() => this.cluster.disconnect());
  }
}

type ClusterConnection = Extract<ReturnType<RedisConnector['client']>, { nodes: unknown }>;

function parseNodes(nodes: string): RedisNode[] {
  return nodes.split(',').map((entry) => {
    const match = /^(.*):(\d+)$/.exec(entry.trim());
    if (!match) throw new Error(`not host:port: ${entry}`);
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) };
  });
}
