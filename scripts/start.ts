import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  RedisConnector,
  assertRedisReachable,
  forkApiProcesses,
  loadConfig,
  nodeFlags,
  nodeFlagsUnder,
  redactUrl,
  runMain,
  withAllocatorDefaults,
  type Config,
} from '@wamedia/server';
import { QueueUnavailableError } from '@wamedia/shared';

/**
 * `pnpm start`: API_PROCESSES API processes sharing one port and WORKER_PROCESSES workers (each
 * one per core unless set; WORKER_PROCESSES=0 runs the API alone, as its container does), each
 * its own process as in production, sharing this terminal: serving and verifying are bound to
 * the core of the process doing them, so one of each per core lets every core work. It runs
 * compiled (dist/start.js, built by `pnpm build`) and starts the compiled API and workers beside
 * it with plain `node`: this process is the only supervisor in the tree.
 * Settings and Redis are checked once here, so a problem is reported in one line rather than
 * once per process. Where no Redis answers on a local REDIS_URL and a
 * `redis-server` binary is at hand, one is started for the session (data in REDIS_DATA_DIR,
 * ./data/redis by default); never on a cluster (REDIS_CLUSTER_NODES), which is the operator's.
 */
runMain('wamedia', async () => {
  const config = loadConfig();
  const children: ChildProcess[] = [];
  const redis = await ensureRedis(config);
  if (redis) children.push(redis);
  const env = withAllocatorDefaults(process.env);
  children.push(...forkApiProcesses(entry('api'), config.apiProcesses, nodeFlagsUnder(nodeFlags.api), env));
  for (let i = 0; i < config.workerProcesses; i++) children.push(startWorker(workerEnv(env, config, i)));

  let exiting = false;
  const stopAll = (signal: NodeJS.Signals) => {
    exiting = true;
    // Redis last: the API and the worker hand their jobs back through it.
    const services = redis ? children.filter((child) => child !== redis) : children;
    for (const child of services) child.kill(signal);
    if (redis) void Promise.all(services.map(exited)).then(() => redis.kill('SIGTERM'));
  };
  process.on('SIGINT', () => stopAll('SIGINT'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));
  // The terminal closing: Redis sits in a process group of its own (see startRedis), so it is
  // stopped from here, like on Ctrl-C.
  process.on('SIGHUP', () => stopAll('SIGTERM'));

  const codes = await Promise.all(
    children.map((child) =>
      exited(child).then((code) => {
        // One process dying takes the others down: half a service is worse than none.
        if (!exiting) stopAll('SIGTERM');
        return code;
      }),
    ),
  );
  process.exit(Math.max(...codes));
});

/** dist/<name>.js, compiled beside this file. */
function entry(name: 'api' | 'worker'): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), `${name}.js`);
}

function startWorker(env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [...nodeFlagsUnder(nodeFlags.worker), entry('worker')], { stdio: 'inherit', env });
}

/** The i-th worker's environment: `env` with health ports following on from WORKER_HEALTH_PORT (0 stays 0: any free port). */
function workerEnv(env: NodeJS.ProcessEnv, config: Config, i: number): NodeJS.ProcessEnv {
  const port = config.workerHealthPort === 0 ? 0 : config.workerHealthPort + i;
  return { ...env, WORKER_HEALTH_PORT: String(port) };
}

/** The child's exit code; a child killed by a signal counts as failed (128 + the signal's number, as shells say). */
function exited(child: ChildProcess): Promise<number> {
  const code = (exitCode: number | null, signal: NodeJS.Signals | null) =>
    exitCode ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(code(child.exitCode, child.signalCode));
  return new Promise((resolve) => child.once('exit', (exitCode, signal) => resolve(code(exitCode, signal))));
}

/** Resolves when Redis answers; starts a local one when it may; else one clear error. */
async function ensureRedis(config: Config): Promise<ChildProcess | undefined> {
  const connector = RedisConnector.fromConfig(config);
  try {
    await assertRedisReachable(connector);
    return undefined;
  } catch (error) {
    if (connector.isCluster) throw error;
    const url = new URL(config.redisUrl);
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (!local || !hasRedisServer()) {
      throw new QueueUnavailableError(
        `no Redis answers at ${redactUrl(config.redisUrl)}: set REDIS_URL to a running Redis, ` +
          'install redis-server, or run everything with `docker compose up --build`',
        { cause: error },
      );
    }
  }
  return startRedis(config.redisUrl, config.redisDataDir);
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function startRedis(redisUrl: string, dataDir: string): Promise<ChildProcess> {
  const url = new URL(redisUrl);
  const port = url.port || '6379';
  // Where REDIS_URL points: 127.0.0.1, or ::1 for [::1] ("localhost" is taken as 127.0.0.1).
  const bind = url.hostname === '[::1]' ? '::1' : '127.0.0.1';
  mkdirSync(dataDir, { recursive: true });
  process.stderr.write(`wamedia: no Redis on port ${port}; starting redis-server (data in ${dataDir})\n`);
  const redis = spawn(
    'redis-server',
    ['--port', port, '--bind', bind, '--dir', dataDir, '--appendonly', 'yes', '--save', ''],
    // A process group of its own: a terminal's Ctrl-C goes to the whole foreground group, and
    // Redis must outlive the API and the worker, which hand their jobs back through it.
    { stdio: 'ignore', detached: true },
  );
  // Not left behind when this process ends on an error (or stopAll has not reached it).
  process.once('exit', () => redis.kill('SIGTERM'));
  for (let attempt = 0; attempt < 50; attempt++) {
    if (redis.exitCode !== null) break;
    try {
      await assertRedisReachable(new RedisConnector({ kind: 'single', url: redisUrl }), 500);
      return redis;
    } catch {
      await delay(100);
    }
  }
  redis.kill();
  throw new QueueUnavailableError(`redis-server did not start on port ${port}`);
}
