/**
 * wamedia as production runs it, for the bench: the compiled API as `pnpm start` runs it
 * (dist/start.js with WORKER_PROCESSES=0: API_PROCESSES processes on one port, one per core unless
 * set) and N compiled workers (dist/worker.js) as separate plain-node processes, LOG_LEVEL=warn, the folder store in
 * a temporary folder, a Redis key prefix of their own. At LOG_LEVEL=warn neither process logs
 * that it is ready, so the stack picks their ports and polls their /readyz instead.
 * `stop()` ends the processes, deletes the prefix's Redis keys (SCAN + DEL) and the folder.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from '../../test/support/free-port.js';
import { deleteKeysUnder } from '../../test/support/redis-client.js';
import { repoRoot, ServiceProcess } from '../../test/support/service-process.js';
import { environmentWithoutSettings } from '../../test/support/stack.js';
import { nodeFlags, withAllocatorDefaults } from '@wamedia/server';
import { signToken } from '../../test/support/tokens.js';

export interface CompiledStackOptions {
  /** Origin of the CDN stand-in (MEDIA_CDN_BASE_URL and MEDIA_ALLOWED_HOSTS). */
  cdnOrigin: string;
  /** Worker processes (default: one per core, as `pnpm start` runs). */
  workers?: number;
  /** Entries added to or replacing the stack's environment. */
  env?: Record<string, string>;
}

/**
 * Per-instance limits stay on, at values no figure reaches: the bench measures the service as it
 * is deployed, limit checks included.
 */
export const UNREACHED_LIMITS = { INSTANCE_REQUESTS_PER_MINUTE: '100000000', INSTANCE_MAX_JOBS_IN_FLIGHT: '100000' };

const READY_TIMEOUT_MS = 30_000;

let built = false;

/** Runs `node scripts/build.mjs` once per bench process. */
export function buildOnce(): void {
  if (built) return;
  const result = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`node scripts/build.mjs failed (${result.status ?? result.signal})`);
  built = true;
}

/** The environment of a bench service: every config variable of this process cleared, then the bench's. */
export function serviceEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  return { ...environmentWithoutSettings(), ...settings };
}

/** The settings every bench stack shares; `env` wins. */
export function benchSettings(tempDir: string, cdnOrigin: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `wamedia-bench-${randomBytes(6).toString('hex')}`,
    JWT_SECRET: randomBytes(24).toString('base64url'),
    LOG_LEVEL: 'warn',
    STORAGE: 'fs',
    STORAGE_DIR: path.join(tempDir, 'media'),
    MEDIA_CDN_BASE_URL: cdnOrigin,
    MEDIA_ALLOWED_HOSTS: cdnOrigin,
    WORKER_CONCURRENCY: '8',
    ...UNREACHED_LIMITS,
    ...env,
  };
}

export class CompiledStack {
  readonly processes: ServiceProcess[] = [];
  /** Where each worker's health server answers (/readyz, /metrics), in the order of {@link workers}. */
  readonly workerOrigins: string[] = [];
  private stopped = false;

  private constructor(
    readonly env: Record<string, string>,
    readonly tempDir: string,
    readonly baseUrl: string,
  ) {}

  /** Builds dist/ (once per bench process), starts the API and the workers, waits for /readyz. */
  static async start(options: CompiledStackOptions): Promise<CompiledStack> {
    buildOnce();
    const tempDir = await mkdtemp(path.join(tmpdir(), 'wamedia-bench-'));
    const apiPort = await freePort();
    const env = benchSettings(tempDir, options.cdnOrigin, { PORT: String(apiPort), ...options.env });
    const stack = new CompiledStack(env, tempDir, `http://127.0.0.1:${apiPort}`);
    try {
      const ready = [stack.spawn('api', 'start', { WORKER_PROCESSES: '0' }, stack.baseUrl)];
      for (let i = 1; i <= (options.workers ?? availableParallelism()); i++) {
        const healthPort = await freePort();
        const origin = `http://127.0.0.1:${healthPort}`;
        stack.workerOrigins.push(origin);
        ready.push(stack.spawn(`worker-${i}`, 'worker', { WORKER_HEALTH_PORT: String(healthPort) }, origin));
      }
      await Promise.all(ready);
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  /** The API's supervisor (dist/start.js): the API processes are its children. */
  get api(): ServiceProcess {
    return this.processes[0]!;
  }

  get workers(): ServiceProcess[] {
    return this.processes.slice(1);
  }

  /** A bearer token for `instanceId`. */
  token(instanceId: string): string {
    return signToken(instanceId, this.env.JWT_SECRET!);
  }

  /** The .enc bytes each worker has downloaded so far (its wamedia_downloaded_bytes_total), in the order of {@link workers}. */
  async downloadedBytesPerWorker(): Promise<number[]> {
    return Promise.all(
      this.workerOrigins.map(async (origin) => {
        const text = await (await fetch(`${origin}/metrics`)).text();
        return Number(/^wamedia_downloaded_bytes_total (\S+)$/m.exec(text)?.[1] ?? 0);
      }),
    );
  }

  /** Everything the processes wrote, stdout and stderr, for warnings a figure looks for. */
  output(): string {
    return this.processes.map((p) => `${p.stdoutLines.join('\n')}\n${p.stderr}`).join('\n');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.processes.map((p) => p.stop('SIGTERM')));
    await deleteKeysUnder(this.env.REDIS_URL!, this.env.REDIS_PREFIX!);
    await rm(this.tempDir, { recursive: true, force: true });
  }

  /** Starts dist/<kind>.js with the node flags and allocator settings `pnpm start` gives it (start.js gives the API its own). */
  private async spawn(name: string, kind: 'start' | 'worker', env: Record<string, string>, origin: string): Promise<void> {
    const flags = kind === 'worker' ? nodeFlags.worker : nodeFlags.supervisor;
    const child = new ServiceProcess({ name, entry: `dist/${kind}.js`, compiled: true, nodeFlags: flags, env: withAllocatorDefaults(serviceEnv({ ...this.env, ...env })) });
    this.processes.push(child);
    await waitReady(origin, child);
  }
}

/** Polls `<origin>/readyz` until it answers 200; fails when `process` exits first or time runs out. */
export async function waitReady(origin: string, process?: ServiceProcess, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (process && !process.running) throw new Error(`${process.name} exited before it was ready\n${process.describe()}`);
    try {
      const response = await fetch(`${origin}/readyz`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await delay(100);
  }
  throw new Error(`${origin}/readyz did not answer 200 within ${timeoutMs} ms${process ? `\n${process.describe()}` : ''}`);
}
