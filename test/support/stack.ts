/**
 * A whole wamedia service for end-to-end tests: the API and N workers as separate processes,
 * a Redis key prefix of their own, and a store of their own (a temporary folder, or a fresh
 * bucket on the run's S3 server: see s3-server.ts). Redis is the run's container when it has
 * one. `stop()` ends the processes and removes everything the stack made: its Redis keys (by
 * prefix, never FLUSH*), its folders.
 *
 * With WAMEDIA_TEST_REDIS_CLUSTER_NODES set (`pnpm test:cluster` sets it, with
 * WAMEDIA_TEST_REDIS_CLUSTER_PASSWORD), stacks run on that Redis Cluster instead (unless given a
 * Redis of their own), under a prefix with a hash tag, and tests read it with a Cluster client.
 *
 * Later suites (scaling, fault injection) can add and stop workers one by one, restart the API,
 * and read each process's logs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { CONFIG_VARIABLES } from '@wamedia/server';
import { ClusterClient } from './cluster-client.js';
import { listFiles } from './list-files.js';
import { RedisClient, type TestRedis } from './redis-client.js';
import { InProcessS3rver, startS3Server, type S3Server } from './s3-server.js';
import { ServiceProcess, type LogLine } from './service-process.js';
import { signToken, type TokenOptions } from './tokens.js';

export type StorageKind = 'fs' | 's3';

export interface StackOptions {
  /** The blob store: a temporary folder (default) or a bucket of an S3 server. */
  storage?: StorageKind;
  /**
   * Which S3 server, with `storage: 's3'`: the run's (its container when it has one, default), or
   * an s3rver in this process, for suites that stop the server or read its folder.
   */
  s3?: 'run' | 'in-process';
  /** Worker processes to start (default 1). */
  workers?: number;
  /** Start the API (default true). */
  api?: boolean;
  /** The CDN stand-in: MEDIA_CDN_BASE_URL and MEDIA_ALLOWED_HOSTS point at its origin. */
  cdn?: { origin: string };
  /** Environment entries added to (or replacing) the stack's; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  /** How long each process may take to log that it is ready, in ms (default 30000). */
  readyTimeoutMs?: number;
  /** Default: the run's Redis container, else REDIS_URL of the test process, else redis://127.0.0.1:6379. */
  redisUrl?: string;
  /** Copy the processes' output to stderr (default: WAMEDIA_E2E_ECHO=1). */
  echo?: boolean;
}

/** Where the stack keeps media. */
export type StackStorage =
  | { kind: 'fs'; dir: string }
  | { kind: 's3'; bucket: string; endpoint: string; server: S3Server };

export class Stack {
  /** The API processes started so far (restarts included); the last one is current. */
  readonly apis: ServiceProcess[] = [];
  readonly workers: ServiceProcess[] = [];
  /** `http://127.0.0.1:<port>` of the current API. */
  baseUrl = '';

  private workerSequence = 0;
  private redisClient: TestRedis | undefined;
  private stopped = false;

  private constructor(
    /** The environment every process of the stack starts with. */
    readonly env: NodeJS.ProcessEnv,
    readonly storage: StackStorage,
    /** A folder removed by stop(); the fs store lives in it. */
    readonly tempDir: string,
    private readonly options: StackOptions,
  ) {}

  /** Starts the store, the API and the workers, and resolves once each has said it is ready. */
  static async start(options: StackOptions = {}): Promise<Stack> {
    const tempDir = await mkdtemp(path.join(tmpdir(), 'wamedia-e2e-'));
    let storage: StackStorage;
    try {
      storage = options.storage === 's3' ? await startS3(tempDir, options.s3 ?? 'run') : { kind: 'fs', dir: path.join(tempDir, 'media') };
    } catch (error) {
      await rm(tempDir, { recursive: true, force: true });
      throw error;
    }
    const stack = new Stack(stackEnv(options, storage), storage, tempDir, options);
    try {
      const starting: Promise<unknown>[] = [];
      if (options.api ?? true) starting.push(stack.startApi());
      for (let i = 0; i < (options.workers ?? 1); i++) starting.push(stack.startWorker());
      await Promise.all(starting);
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  /** REDIS_PREFIX of the stack: every Redis key it makes starts with `<prefix>:`. */
  get prefix(): string {
    return this.env.REDIS_PREFIX!;
  }

  get jwtSecret(): string {
    return this.env.JWT_SECRET!;
  }

  /** The current API process. */
  get api(): ServiceProcess {
    const api = this.apis.at(-1);
    if (!api) throw new Error('this stack has no API');
    return api;
  }

  /** Every process started, in order. */
  get processes(): ServiceProcess[] {
    return [...this.apis, ...this.workers];
  }

  /** A token for `instanceId` signed with the stack's secret (see TokenOptions for bad ones). */
  token(instanceId: string, options?: TokenOptions): string {
    return signToken(instanceId, this.jwtSecret, options);
  }

  /** Starts an API process (again, after a stop) and points baseUrl at it. */
  async startApi(env: Record<string, string | undefined> = {}): Promise<ServiceProcess> {
    const api = this.spawn(`api-${this.apis.length + 1}`, 'apps/api/src/main.ts', env);
    this.apis.push(api);
    const ready = await api.waitForLog((line) => line.msg === 'api listening', this.readyTimeoutMs, '"api listening"');
    const port = Number(ready.port);
    if (!Number.isInteger(port) || port <= 0) {
      throw new Error(`"api listening" carries no usable port (${JSON.stringify(ready)})`);
    }
    this.baseUrl = `http://127.0.0.1:${port}`;
    return api;
  }

  /**
   * Starts one more worker process and resolves once it is taking jobs.
   * @param launcher a command to start it under (see ServiceProcessOptions.launcher), e.g. to
   *   run it in a network namespace of its own.
   */
  async startWorker(env: Record<string, string | undefined> = {}, launcher?: readonly string[]): Promise<ServiceProcess> {
    const worker = this.spawn(`worker-${++this.workerSequence}`, 'apps/worker/src/main.ts', env, launcher);
    this.workers.push(worker);
    await worker.waitForLog((line) => line.msg === 'worker ready', this.readyTimeoutMs, '"worker ready"');
    return worker;
  }

  /** Every log line of every process, tagged with the process name. */
  logs(): (LogLine & { process: string })[] {
    return this.processes.flatMap((p) => p.logs.map((line) => ({ ...line, process: p.name })));
  }

  /** stderr and the last log lines of every process, for failure messages. */
  describe(): string {
    return this.processes.map((p) => p.describe()).join('\n');
  }

  /** A Redis connection for looking at the stack's keys (a Cluster client on a cluster); closed by stop(). */
  async redis(): Promise<TestRedis> {
    this.redisClient ??= await connectTestRedis(this.env);
    return this.redisClient;
  }

  /** The Redis keys of the stack (all start with `<prefix>:`). */
  async redisKeys(): Promise<string[]> {
    return (await this.redis()).scan(`${this.prefix}:*`);
  }

  /**
   * Every file the store holds, relative to its root and sorted: for fs the folder's files; for
   * s3 the object keys and any unfinished multipart upload the server lets be seen.
   */
  async storedFiles(): Promise<string[]> {
    if (this.storage.kind === 'fs') return (await listFiles(this.storage.dir)).sort();
    return this.storage.server.storedFiles(this.storage.bucket);
  }

  /**
   * SIGTERMs every process and waits for them, then deletes the stack's Redis keys, lets go of
   * the S3 server (stopping it when it runs here) and removes the temporary folders. Safe to
   * call twice.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.processes.map((p) => p.stop('SIGTERM')));
    try {
      const redis = await this.redis();
      await redis.deleteMatching(`${this.prefix}:*`);
    } finally {
      await this.redisClient?.close();
      if (this.storage.kind === 's3') await this.storage.server.close().catch(() => undefined);
      await rm(this.tempDir, { recursive: true, force: true });
    }
  }

  /**
   * Takes the in-process s3rver away at once, as an S3 outage does (see InProcessS3rver.stop);
   * {@link restartS3rver} brings it back.
   */
  async stopS3rver(): Promise<void> {
    await this.s3rver().stop();
  }

  /** Starts the s3rver again on the same port, over the same folder (see {@link stopS3rver}). */
  async restartS3rver(): Promise<void> {
    await this.s3rver().restart();
  }

  /** The fs store's folder (`storage: 'fs'`). */
  get storeDir(): string {
    if (this.storage.kind !== 'fs') throw new Error('this stack does not run on the fs store');
    return this.storage.dir;
  }

  /** The stack's in-process s3rver (`storage: 's3', s3: 'in-process'`). */
  s3rver(): InProcessS3rver {
    const server = this.storage.kind === 's3' ? this.storage.server : undefined;
    if (!(server instanceof InProcessS3rver)) throw new Error("this stack does not run on an in-process s3rver (storage: 's3', s3: 'in-process')");
    return server;
  }

  private get readyTimeoutMs(): number {
    return this.options.readyTimeoutMs ?? 30_000;
  }

  private spawn(name: string, entry: string, env: Record<string, string | undefined>, launcher?: readonly string[]): ServiceProcess {
    if (this.stopped) throw new Error('the stack is stopped');
    return new ServiceProcess({
      name,
      entry,
      launcher,
      env: applyEnv({ ...this.env }, env),
      echo: this.options.echo ?? process.env.WAMEDIA_E2E_ECHO === '1',
    });
  }
}

/** A bucket of its own for the stack on the run's S3 server, or on an s3rver under `tempDir/s3`. */
async function startS3(tempDir: string, which: 'run' | 'in-process'): Promise<StackStorage> {
  const dir = path.join(tempDir, 's3');
  const server = which === 'in-process' ? await InProcessS3rver.start(dir) : await startS3Server(dir);
  // The run's server is shared by every stack: a bucket name no other stack has.
  const bucket = `wamedia-e2e-${randomBytes(6).toString('hex')}`;
  try {
    await server.createBucket(bucket);
  } catch (error) {
    await server.close();
    throw error;
  }
  return { kind: 's3', bucket, endpoint: server.endpoint, server };
}

/** The Redis Cluster the stacks of this run use (`pnpm test:cluster`), if any. */
export function testCluster(): { nodes: string; password: string | undefined } | undefined {
  const nodes = process.env.WAMEDIA_TEST_REDIS_CLUSTER_NODES;
  return nodes ? { nodes, password: process.env.WAMEDIA_TEST_REDIS_CLUSTER_PASSWORD || undefined } : undefined;
}

/** A connection to the Redis a stack's environment names: its cluster, or REDIS_URL. */
export async function connectTestRedis(env: NodeJS.ProcessEnv): Promise<TestRedis> {
  if (env.REDIS_CLUSTER_NODES) return ClusterClient.connect(env.REDIS_CLUSTER_NODES, env.REDIS_CLUSTER_PASSWORD);
  return RedisClient.connect(env.REDIS_URL);
}

/** This process's environment without any wamedia setting: no setting of the test run leaks into a service. */
export function environmentWithoutSettings(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CONFIG_VARIABLES) delete env[name];
  return env;
}

function stackEnv(options: StackOptions, storage: StackStorage): NodeJS.ProcessEnv {
  const env = environmentWithoutSettings();
  const prefix = `wamedia-test-${randomBytes(6).toString('hex')}`;
  Object.assign(env, {
    HOST: '127.0.0.1',
    PORT: '0',
    REDIS_URL: options.redisUrl ?? inject('testContainers')?.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: prefix,
    JWT_SECRET: randomBytes(24).toString('base64url'),
    LOG_LEVEL: 'info',
    JOB_BACKOFF_MS: '100',
    CDN_CONNECT_TIMEOUT_MS: '2000',
    CDN_IDLE_TIMEOUT_MS: '5000',
    // Several workers per host, several stacks at once: every listener on a free port.
    WORKER_HEALTH_PORT: '0',
    SHUTDOWN_GRACE_MS: '5000',
    // Per-instance limits off: suites that flood on purpose (fuzzing, concurrency) are not about
    // them; test/e2e/limits.test.ts sets them.
    INSTANCE_MAX_JOBS_IN_FLIGHT: '0',
    INSTANCE_REQUESTS_PER_MINUTE: '0',
  });
  const cluster = options.redisUrl ? undefined : testCluster();
  if (cluster) {
    // In braces: the hash tag that keeps every key of the stack in one slot.
    Object.assign(env, { REDIS_CLUSTER_NODES: cluster.nodes, REDIS_PREFIX: `{${prefix}}` });
    if (cluster.password) env.REDIS_CLUSTER_PASSWORD = cluster.password;
    delete env.REDIS_URL;
  }
  if (options.cdn) {
    env.MEDIA_CDN_BASE_URL = options.cdn.origin;
    env.MEDIA_ALLOWED_HOSTS = options.cdn.origin;
  }
  if (storage.kind === 'fs') {
    Object.assign(env, { STORAGE: 'fs', STORAGE_DIR: storage.dir });
  } else {
    const settings = storage.server.settings(storage.bucket);
    Object.assign(env, {
      STORAGE: 's3',
      S3_ENDPOINT: storage.endpoint,
      S3_REGION: settings.region,
      S3_BUCKET: storage.bucket,
      S3_ACCESS_KEY_ID: settings.accessKeyId,
      S3_SECRET_ACCESS_KEY: settings.secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    });
  }
  return applyEnv(env, options.env ?? {});
}

function applyEnv(env: NodeJS.ProcessEnv, changes: Record<string, string | undefined>): NodeJS.ProcessEnv {
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}
