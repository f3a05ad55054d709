/**
 * On a Redis Cluster, a prefix without a hash tag is refused at start-up, in one line that says
 * why, by the services and the CLI alike; and the CLI mints and revokes tokens on the cluster
 * that the API then honours.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { useCdnStack } from '../support/cdn-stack.js';
import { runCli } from '../support/cli-process.js';
import { ServiceProcess } from '../support/service-process.js';

const INSTANCE = 'tenant-cli';

const suite = useCdnStack({ workers: 0 });

/** The status of an instance route for `token` (an unknown job: 404 while the token is good). */
async function statusOf(token: string): Promise<number> {
  const response = await fetch(`${suite.stack.baseUrl}/api/v2/instance/${INSTANCE}/media/jobs/unknown`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await response.arrayBuffer();
  return response.status;
}

describe('a prefix without a hash tag on a cluster', () => {
  const started: ServiceProcess[] = [];
  afterAll(async () => {
    await Promise.all(started.map((service) => service.stop('SIGKILL')));
  });

  it.each(['apps/api/src/main.ts', 'apps/worker/src/main.ts'])('is refused by %s at start-up, in one line naming REDIS_PREFIX', async (entry) => {
    const service = new ServiceProcess({ name: entry, entry, env: { ...suite.stack.env, REDIS_PREFIX: 'wamedia-untagged' } });
    started.push(service);
    const { code } = await service.exited;
    expect(code, service.describe()).toBe(1);
    expect(service.stderr.trim().split('\n')).toEqual([expect.stringMatching(/REDIS_PREFIX "wamedia-untagged" has no hash tag.*\{wamedia-untagged\}.*one slot/)]);
  });

  it('is refused by the CLI, in one line', async () => {
    const run = await runCli(['token', INSTANCE], { env: { ...suite.stack.env, REDIS_PREFIX: 'wamedia' } });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout.toString()).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/REDIS_PREFIX "wamedia" has no hash tag/)]);
  });
});

describe('the CLI on the cluster', () => {
  it('mints tokens carrying the version on the cluster and revokes them there: the API refuses the old ones', async () => {
    const mint = async () => {
      const run = await runCli(['token', INSTANCE], { env: suite.stack.env });
      expect(run.code, run.stderr).toBe(0);
      return run.stdout.toString().trim();
    };
    const first = await mint();
    expect(await statusOf(first)).toBe(404);

    const revoked = await runCli(['revoke', INSTANCE], { env: suite.stack.env });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout.toString())).toEqual({ instanceId: INSTANCE, tokenVersion: 1 });
    expect(await (await suite.stack.redis()).command('GET', `${suite.stack.prefix}:token-version:${INSTANCE}`)).toBe('1');
    expect(await statusOf(first)).toBe(401);

    const second = await mint();
    expect(await statusOf(second)).toBe(404);
  });

  it('says in one line when no node of the cluster answers', async () => {
    const run = await runCli(['token', INSTANCE], { env: { ...suite.stack.env, REDIS_CLUSTER_NODES: '127.0.0.1:1' } });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/cannot reach Redis Cluster at 127\.0\.0\.1:1 \(REDIS_CLUSTER_NODES\)/)]);
  });
});
