/**
 * `pnpm start` as a developer runs it, from the repository root, compiled (`pnpm build`, then
 * plain `node dist/start.js`, which starts dist/api.js and dist/worker.js): with no
 * Redis on REDIS_URL it starts a redis-server of its own, then the API and a worker, and one
 * Ctrl-C stops all three; with no redis-server to start either, it says what to do in one line.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_DEMAND_METRIC, QUEUE_JOBS_METRIC, allocatorEnv, nodeFlags } from '@wamedia/server';
import { DOWNLOAD_QUEUE } from '@wamedia/shared';
import { downloadBody, eventually } from '../support/api-client.js';
import { FakeCdn } from '../support/fake-cdn.js';
import { freePort } from '../support/free-port.js';
import { Metrics } from '../support/prometheus.js';
import { connectionOutcome, rawRequest } from '../support/raw-http.js';
import { RedisClient } from '../support/redis-client.js';
import { RedisServer } from '../support/redis-server.js';
import { ServiceProcess, repoRoot } from '../support/service-process.js';
import { signToken } from '../support/tokens.js';

const START_TIMEOUT_MS = 30_000;
const SHUTDOWN_GRACE_MS = 1_500;
const hasRedisServer = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

beforeAll(() => {
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`pnpm build failed:\n${build.stderr}`);
});

/** Folders and process groups to clean up after each test. */
const tempDirs: string[] = [];
const groups: ServiceProcess[] = [];

afterEach(async () => {
  for (const group of groups.splice(0)) {
    // Whatever the test left running in the group (it failed half-way): gone at once.
    try {
      process.kill(-group.pid!, 'SIGKILL');
    } catch {
      // The group is already empty.
    }
  }
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'wamedia-start-'));
  tempDirs.push(dir);
  return dir;
}

/** The environment of one `pnpm start`: nothing of the test's own configuration leaks in. */
async function startEnv(dir: string, redisPort: number, PATH: string): Promise<NodeJS.ProcessEnv> {
  return {
    PATH,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    REDIS_PREFIX: `wamedia-start-${randomBytes(6).toString('hex')}`,
    REDIS_DATA_DIR: path.join(dir, 'redis'),
    HOST: '127.0.0.1',
    PORT: '0',
    WORKER_HEALTH_PORT: '0',
    STORAGE_DIR: path.join(dir, 'media'),
    JWT_SECRET: randomBytes(24).toString('base64url'),
    SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS),
    LOG_LEVEL: 'info',
  };
}

/** Runs dist/start.js as `pnpm start` does, leading a process group of its own. */
function startScript(env: NodeJS.ProcessEnv): ServiceProcess {
  const start = new ServiceProcess({
    name: 'pnpm-start',
    entry: 'dist/start.js',
    compiled: true,
    nodeFlags: nodeFlags.supervisor,
    env,
    detached: true,
    echo: process.env.WAMEDIA_E2E_ECHO === '1',
  });
  groups.push(start);
  return start;
}

/** A process's environment, as /proc shows it. */
async function environment(pid: number): Promise<Record<string, string>> {
  const entries = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean);
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

/** A process's arguments, as /proc shows them. */
async function commandLine(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
}

/** Whether a process with this pid still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The "api listening" lines of `count` API processes, all on one port. */
async function apisListening(start: ServiceProcess, count: number): Promise<Record<string, unknown>[]> {
  const lines = await eventually(
    async () => {
      const listening = start.logsWithMsg('api listening');
      return listening.length === count ? listening : undefined;
    },
    { what: `${count} "api listening" lines`, timeoutMs: START_TIMEOUT_MS },
  );
  expect(new Set(lines.map((line) => line.port)).size).toBe(1);
  return lines;
}

async function redisAnswers(url: string): Promise<boolean> {
  let client: RedisClient | undefined;
  try {
    client = await RedisClient.connect(url);
    return (await client.command('PING')) === 'PONG';
  } catch {
    return false;
  } finally {
    await client?.close();
  }
}

describe('pnpm start', () => {
  it("runs the supervisor with its node flags (it cannot give them to itself: package.json's start script does)", async () => {
    const scripts = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')).scripts as Record<string, string>;
    expect(scripts.start).toMatch(new RegExp(`\\bexec ${['node', ...nodeFlags.supervisor, 'dist/start.js'].join(' ')}$`));
  });

  it.skipIf(!hasRedisServer)(
    'starts a redis-server of its own when none answers, then API_PROCESSES APIs and WORKER_PROCESSES workers; Ctrl-C (SIGINT to the group) stops them all, Redis last',
    async () => {
      const dir = await tempDir();
      const cdn = await FakeCdn.start();
      try {
        const env = await startEnv(dir, await freePort(), process.env.PATH ?? '');
        Object.assign(env, { MEDIA_CDN_BASE_URL: cdn.origin, MEDIA_ALLOWED_HOSTS: cdn.origin, WORKER_PROCESSES: '2', API_PROCESSES: '2' });
        const redisUrl = env.REDIS_URL!;
        expect(await redisAnswers(redisUrl)).toBe(false);

        const start = startScript(env);
        const apis = await apisListening(start, 2);
        const listening = apis[0]!;
        const workers = await eventually(
          async () => {
            const ready = start.logsWithMsg('worker ready');
            return ready.length === 2 ? ready : undefined;
          },
          { what: 'two "worker ready" lines', timeoutMs: START_TIMEOUT_MS },
        );
        expect(start.stderr).toContain(`starting redis-server (data in ${path.join(dir, 'redis')})`);
        expect(await redisAnswers(redisUrl)).toBe(true);
        const redis = await RedisClient.connect(redisUrl);
        const redisPid = Number(/process_id:(\d+)/.exec(String(await redis.command('INFO', 'server')))?.[1]);
        await redis.close();
        const apiUrl = `http://127.0.0.1:${listening.port as number}`;
        expect(await connectionOutcome(`${apiUrl}/readyz`)).toBe(200);
        expect(await readdir(path.join(dir, 'redis'))).not.toEqual([]);
        const pids = [start.pid!, ...apis.map((line) => line.pid as number), ...workers.map((line) => line.pid as number), redisPid];
        expect(new Set(pids).size).toBe(pids.length);
        for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(true);
        expect(await commandLine(start.pid!)).toEqual(expect.arrayContaining([...nodeFlags.supervisor]));
        for (const api of apis) expect(await commandLine(api.pid as number)).toEqual(expect.arrayContaining([...nodeFlags.api]));
        for (const worker of workers) expect(await commandLine(worker.pid as number)).toEqual(expect.arrayContaining([...nodeFlags.worker]));
        for (const line of [...apis, ...workers]) expect(await environment(line.pid as number)).toMatchObject(allocatorEnv);

        // A download the worker is still busy with at Ctrl-C: past the grace it goes back to
        // the queue, through Redis, so Redis must still be there then.
        const media = cdn.publish(randomBytes(64 * 1024), 'document');
        cdn.setBehaviour(media.directPathname, { kind: 'serve', chunkSize: 4 * 1024, chunkIntervalMs: 500 });
        const accepted = await rawRequest(`${apiUrl}/api/v2/instance/instance-a/media/directly-download?timeout=0`, {
          method: 'POST',
          headers: { authorization: `Bearer ${signToken('instance-a', env.JWT_SECRET!)}`, 'content-type': 'application/json' },
          body: JSON.stringify(downloadBody(media, { omit: ['url'] })),
        }).response;
        accepted.resume();
        expect(accepted.statusCode).toBe(202);
        await eventually(async () => (cdn.count(media.directPathname) === 1 ? true : undefined), { what: 'the CDN request' });

        // A terminal's Ctrl-C: SIGINT to every process of the foreground group at once.
        process.kill(-start.pid!, 'SIGINT');
        const { code } = await start.exited;
        expect(code, start.describe()).toBe(0);
        // The API and the worker shut down in order (a second SIGINT did not kill them half-way);
        // the worker handed its job back without a Redis error.
        expect(start.logsWithMsg('stopped').map((line) => line.name).sort()).toEqual(['api', 'api', 'worker', 'worker']);
        expect(start.logsWithMsg('active download jobs did not finish in time; handing them back to the queue')).toHaveLength(1);
        expect(start.logs.filter((line) => line.level >= 40 && line.msg !== 'active download jobs did not finish in time; handing them back to the queue'))
          .toEqual([]);
        expect(await redisAnswers(redisUrl)).toBe(false);
        expect(await connectionOutcome(`${apiUrl}/healthz`)).toBe('refused');
        for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
      } finally {
        await cdn.close();
      }
    },
  );

  it('with WORKER_PROCESSES=0 runs the API alone, its processes sharing one port and /metrics counting the requests of all of them, and the queue depth once', async () => {
    const dir = await tempDir();
    const redis = await RedisServer.start();
    try {
      const env = await startEnv(dir, redis.port, process.env.PATH ?? '');
      Object.assign(env, { WORKER_PROCESSES: '0', API_PROCESSES: '2' });
      const start = startScript(env);
      const apis = await apisListening(start, 2);
      const apiUrl = `http://127.0.0.1:${apis[0]!.port as number}`;
      const requests = 40;
      // A connection each (no keep-alive): connections are what node:cluster hands out in turn.
      for (let i = 0; i < requests; i++) expect(await connectionOutcome(`${apiUrl}/openapi.json`)).toBe(200);

      const served = await eventually(
        async () => {
          const lines = start.logs.filter((line) => line.msg === 'request completed' && (line.req as { url?: string })?.url === '/openapi.json');
          return lines.length === requests ? lines : undefined;
        },
        { what: `${requests} request log lines` },
      );
      expect(new Set(served.map((line) => line.pid))).toEqual(new Set(apis.map((line) => line.pid)));
      const metrics = await (await fetch(`${apiUrl}/metrics`)).text();
      const counted = /^wamedia_http_request_duration_seconds_count\{[^}]*route="\/openapi\.json"[^}]*\} (\d+)$/m.exec(metrics);
      expect(Number(counted?.[1]), metrics).toBe(requests);
      expect(start.logsWithMsg('worker ready')).toEqual([]);

      // The queue is one whatever the number of API processes: its depth is read once, not summed.
      const queue = new Queue(DOWNLOAD_QUEUE, { connection: { host: '127.0.0.1', port: redis.port }, prefix: env.REDIS_PREFIX });
      try {
        for (let i = 0; i < 2; i++) await queue.add('download', { i });
        for (let i = 0; i < 3; i++) await queue.add('download', { i }, { priority: 10 });
      } finally {
        await queue.close();
      }
      const depth = await Metrics.scrape(`${apiUrl}/metrics`);
      expect(depth.find(QUEUE_JOBS_METRIC, { queue: DOWNLOAD_QUEUE, state: 'waiting' }), depth.text).toEqual([
        { name: QUEUE_JOBS_METRIC, labels: { queue: DOWNLOAD_QUEUE, state: 'waiting' }, value: 2 },
      ]);
      expect(depth.find(QUEUE_JOBS_METRIC, { queue: DOWNLOAD_QUEUE, state: 'prioritized' }).map((s) => s.value)).toEqual([3]);
      expect(depth.find(QUEUE_DEMAND_METRIC, { queue: DOWNLOAD_QUEUE }).map((s) => s.value)).toEqual([5]);

      process.kill(-start.pid!, 'SIGTERM');
      expect((await start.exited).code, start.describe()).toBe(0);
      expect(start.logsWithMsg('stopped').map((line) => line.name)).toEqual(['api', 'api']);
    } finally {
      await redis.stop();
    }
  });

  it('exits non-zero with one line naming REDIS_URL and docker compose when no Redis answers and no redis-server is on PATH', async () => {
    const dir = await tempDir();
    // A PATH with node and nothing else.
    const bin = path.join(dir, 'bin');
    await mkdir(bin);
    await symlink(process.execPath, path.join(bin, 'node'));
    const env = await startEnv(dir, await freePort(), bin);

    const start = startScript(env);
    const { code } = await start.exited;
    expect(code).not.toBe(0);
    const lines = start.stderr.split('\n').filter((line) => line !== '');
    expect(lines, start.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/REDIS_URL/);
    expect(lines[0]).toMatch(/docker compose/);
    expect(lines[0]).toContain(env.REDIS_URL);
    // Nothing started: no service logged, no Redis folder made.
    expect(start.logs).toEqual([]);
    expect(await readdir(dir)).toEqual(['bin']);
  });
});
