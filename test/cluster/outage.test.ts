/**
 * A Redis Cluster that stops serving (a master gone: its slots are unserved and, with full
 * coverage required, the others answer CLUSTERDOWN) is a Redis outage like any other: requests
 * get 503 in the error shape, never a 500 or a hang, and the API and the worker serve again by
 * themselves once the master is back. On a cluster of its own, since it is taken down.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { downloadBody, eventually } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import { RedisCluster } from '../support/redis-cluster.js';

const INSTANCE = 'tenant-outage';

describe('a cluster outage', () => {
  let cluster: RedisCluster;

  beforeAll(async () => {
    cluster = await RedisCluster.start({ password: 'outage-pass' });
  });

  afterAll(async () => {
    await cluster?.remove();
  });

  const suite = useCdnStack({
    env: () => ({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_CLUSTER_PASSWORD: cluster.password }),
  });

  it('is answered 503 while a master is down, and served again once it is back', async () => {
    const before = suite.cdn.publish(randomBytes(2_000), 'image');
    expectBytes(await suite.api.download(INSTANCE, downloadBody(before)), before.sha256, before.fileLength);

    await cluster.stopNode(0);
    try {
      const refused = await eventually(
        async () => {
          const probe = suite.cdn.publish(randomBytes(1_000), 'image');
          const response = await suite.api.download(INSTANCE, downloadBody(probe), { timeout: 0 });
          return response.status === 202 ? undefined : response;
        },
        { timeoutMs: 60_000, intervalMs: 250, what: 'a request refused while the cluster is down' },
      );
      expectError(refused, 503, /Redis/);
    } finally {
      await cluster.restartNode(0);
    }

    const after = suite.cdn.publish(randomBytes(2_000), 'audio');
    const served = await eventually(
      async () => {
        const response = await suite.api.download(INSTANCE, downloadBody(after));
        return response.status === 503 ? undefined : response;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the stack serving again once the cluster is back' },
    );
    expectBytes(served, after.sha256, after.fileLength);
  });
});
