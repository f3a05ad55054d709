/**
 * The global set-up of `pnpm test:cluster`: one Redis Cluster (test/support/redis-cluster.ts) for
 * the whole run, named to the test files by WAMEDIA_TEST_REDIS_CLUSTER_NODES and
 * WAMEDIA_TEST_REDIS_CLUSTER_PASSWORD (set before vitest starts its test processes, which inherit
 * them), and removed when the run ends. A cluster already named in those variables is used as it is.
 */
import { RedisCluster } from './redis-cluster.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.WAMEDIA_TEST_REDIS_CLUSTER_NODES) return undefined;
  const cluster = await RedisCluster.start({ masters: 3, password: 'wamedia-cluster-pass' });
  process.env.WAMEDIA_TEST_REDIS_CLUSTER_NODES = cluster.nodes;
  process.env.WAMEDIA_TEST_REDIS_CLUSTER_PASSWORD = cluster.password;
  return async () => {
    await cluster.remove();
    delete process.env.WAMEDIA_TEST_REDIS_CLUSTER_NODES;
    delete process.env.WAMEDIA_TEST_REDIS_CLUSTER_PASSWORD;
  };
}
