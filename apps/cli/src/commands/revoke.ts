import { RedisConnector, connectTokenVersions, loadConfig } from '@wamedia/server';
import { parseFlagsAndOne } from '../flags.js';

export const usage = `Usage: wamedia revoke <instanceId>

Revokes every token of one instance made so far: bumps the instance's token version in Redis
(REDIS_URL, or the cluster of REDIS_CLUSTER_NODES, under REDIS_PREFIX), so the API refuses (401)
any token carrying an older one.
Tokens made afterwards with 'wamedia token' carry the new version and work.

Prints {"instanceId": ..., "tokenVersion": <the new version>} as one JSON line.

Options:
  -h, --help   show this help
`;

/** `wamedia revoke`: the CLI twin of POST /admin/instances/:instanceId/revoke-tokens. */
export async function run(args: string[]): Promise<void> {
  const { positional: instanceId } = parseFlagsAndOne(args, {}, 'instanceId');
  const config = loadConfig();
  const connection = await connectTokenVersions(RedisConnector.fromConfig(config), config.redisPrefix);
  try {
    const tokenVersion = await connection.versions.revoke(instanceId);
    process.stdout.write(`${JSON.stringify({ instanceId, tokenVersion })}\n`);
  } finally {
    await connection.close();
  }
}
