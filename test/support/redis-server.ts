/**
 * A private, throw-away redis-server on a free port, for tests that take Redis away from a
 * stack (stop it, start it again) without touching the Redis other runs share. By default
 * nothing is persisted (`--save '' --appendonly no`): a restart comes back empty. With
 * `appendOnly` it keeps an AOF (fsync on every write) in a folder of its own, as production
 * does, so a restart comes back with every acknowledged write; `remove()` deletes that folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { RedisClient } from './redis-client.js';

/** Servers still running: killed if this (the test) process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface RedisServerOptions {
  /**
   * Keep an append-only file (`--appendonly yes --appendfsync always`) in a temporary folder of
   * the server's own, so that a stop and restart keep every acknowledged write. Default false.
   */
  appendOnly?: boolean;
  /**
   * Addresses to listen on besides 127.0.0.1 (e.g. the host's ends of a test's veth links, for
   * processes in network namespaces); they must exist when the server starts.
   */
  bind?: readonly string[];
}

export class RedisServer {
  private child: ChildProcess | undefined;
  /** Everything the server printed, over every start, for failure messages. */
  output = '';

  private constructor(
    readonly port: number,
    /** The data folder when the server keeps an AOF; undefined when it persists nothing. */
    readonly dataDir: string | undefined,
    /** Every address the server listens on, 127.0.0.1 first. */
    readonly addresses: readonly string[],
  ) {}

  /** Starts redis-server on a free port of 127.0.0.1 and resolves once it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const dataDir = options.appendOnly ? await mkdtemp(path.join(tmpdir(), 'wamedia-redis-')) : undefined;
    const server = new RedisServer(await freePort(), dataDir, ['127.0.0.1', ...(options.bind ?? [])]);
    await server.restart();
    return server;
  }

  /** `redis://127.0.0.1:<port>`: the REDIS_URL of a stack that should use this server. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** `redis://<address>:<port>`: the REDIS_URL through another of the addresses it listens on. */
  urlAt(address: string): string {
    if (!this.addresses.includes(address)) throw new Error(`redis-server on port ${this.port} does not listen on ${address}`);
    return `redis://${address}:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the server (again) on its port; resolves once it answers PING. */
  async restart(timeoutMs = 5_000): Promise<void> {
    if (this.child) return;
    const persistence = this.dataDir
      ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dataDir]
      : ['--appendonly', 'no'];
    // Protected mode refuses every client but loopback ones: the other addresses are a test's
    // private links, made for the processes it starts in network namespaces.
    const access = this.addresses.length > 1 ? ['--protected-mode', 'no'] : [];
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', ...this.addresses, ...access, '--save', '', ...persistence], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    running.add(child);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.once('exit', () => {
      running.delete(child);
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const client = await RedisClient.connect(this.url);
        await client.command('PING');
        await client.close();
        return;
      } catch (error) {
        if (!this.child || Date.now() > deadline) {
          throw new Error(`redis-server on port ${this.port} did not start: ${String(error)}\n${this.output}`);
        }
        await delay(25);
      }
    }
  }

  /** Stops the server (SIGTERM; SIGKILL after `killAfterMs`) and waits for it to exit. */
  async stop(killAfterMs = 5_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /** Stops the server and deletes its data folder (when it has one). */
  async remove(): Promise<void> {
    await this.stop();
    if (this.dataDir) await rm(this.dataDir, { recursive: true, force: true });
  }
}
