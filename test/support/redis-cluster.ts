/**
 * A throw-away Redis Cluster for `pnpm test:cluster`: three password-protected masters started
 * from the `redis-server` binary on free loopback ports, each cluster-enabled in a temporary
 * folder of its own, joined by `redis-cli --cluster create` (no replicas), and known to be
 * serving once every node reports cluster_state:ok. A node can be stopped and started again (it
 * rejoins from its nodes.conf), as an outage does. `remove()` stops them and deletes the folders.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { RedisClient } from './redis-client.js';

/** Servers still running: killed if this process exits without removing the cluster. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A node's cluster bus listens on its port + 10000: both must be free. */
const BUS_PORT_OFFSET = 10_000;

export interface RedisClusterOptions {
  /** Masters to start (default 3, the fewest `redis-cli --cluster create` accepts). */
  masters?: number;
  /** The nodes' password (requirepass and masterauth). */
  password?: string;
  /** How long the cluster may take to serve, in ms (default 60000: a busy machine is slow). */
  readyTimeoutMs?: number;
}

interface ClusterNodeProcess {
  port: number;
  dir: string;
  child: ChildProcess;
  output: string;
}

export class RedisCluster {
  private constructor(
    private readonly nodeProcesses: ClusterNodeProcess[],
    readonly password: string,
  ) {}

  /** Starts the masters, creates the cluster and resolves once it serves every slot. */
  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const password = options.password ?? 'cluster-pass';
    const ports = await freeNodePorts(options.masters ?? 3);
    const nodes: ClusterNodeProcess[] = [];
    const cluster = new RedisCluster(nodes, password);
    try {
      for (const port of ports) nodes.push(await startNode(port, password));
      await Promise.all(nodes.map((node) => waitForPing(node, password, options.readyTimeoutMs ?? 60_000)));
      await createCluster(ports, password);
      await cluster.waitUntilServing(options.readyTimeoutMs ?? 60_000);
    } catch (error) {
      await cluster.remove();
      throw error;
    }
    return cluster;
  }

  /** `127.0.0.1:<port>,...`: REDIS_CLUSTER_NODES of the services that should use it. */
  get nodes(): string {
    return this.nodeProcesses.map((node) => `127.0.0.1:${node.port}`).join(',');
  }

  get ports(): number[] {
    return this.nodeProcesses.map((node) => node.port);
  }

  /** What every node printed, for failure messages. */
  describe(): string {
    return this.nodeProcesses.map((node) => `--- node ${node.port}\n${node.output}`).join('\n');
  }

  /** Stops every node (SIGTERM, SIGKILL after 5 s) and deletes their folders. */
  async remove(): Promise<void> {
    await Promise.all(
      this.nodeProcesses.map(async (node) => {
        await stopNode(node);
        await rm(node.dir, { recursive: true, force: true });
      }),
    );
  }

  /** Stops the `index`-th master (its data and slots are gone until {@link restartNode}). */
  async stopNode(index: number): Promise<void> {
    await stopNode(this.nodeProcesses[index]!);
  }

  /** Starts the `index`-th master again on its port and folder, and waits until the cluster serves again. */
  async restartNode(index: number, timeoutMs = 60_000): Promise<void> {
    const node = this.nodeProcesses[index]!;
    const restarted = await startNode(node.port, this.password, node.dir);
    restarted.output = `${node.output}${restarted.output}`;
    this.nodeProcesses[index] = restarted;
    await waitForPing(restarted, this.password, timeoutMs);
    await this.waitUntilServing(timeoutMs);
  }

  /** Resolves once every running node reports cluster_state:ok. */
  async waitUntilServing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(this.nodeProcesses.map((node) => clusterState(node.port, this.password).catch(() => 'unknown')));
      if (states.every((state) => state === 'ok')) return;
      if (Date.now() > deadline) {
        throw new Error(`the Redis Cluster did not reach cluster_state:ok (${states.join(', ')})\n${this.describe()}`);
      }
      await delay(100);
    }
  }
}

/** `count` ports of 127.0.0.1 that are free, and whose bus ports are free too. */
async function freeNodePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    // Below the usual ephemeral range (32768 and up), so that port + 10000 stays a valid port.
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (ports.includes(port) || ports.includes(port + BUS_PORT_OFFSET)) continue;
    if ((await isFree(port)) && (await isFree(port + BUS_PORT_OFFSET))) ports.push(port);
  }
  return ports;
}

async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function stopNode(node: ClusterNodeProcess): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = once(node.child, 'exit');
  node.child.kill('SIGTERM');
  const timer = setTimeout(() => node.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function startNode(port: number, password: string, existingDir?: string): Promise<ClusterNodeProcess> {
  const dir = existingDir ?? (await mkdtemp(path.join(tmpdir(), 'wamedia-cluster-')));
  const child = spawn(
    'redis-server',
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', '5000',
      '--requirepass', password,
      '--masterauth', password,
      '--save', '',
      '--appendonly', 'no',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  const node: ClusterNodeProcess = { port, dir, child, output: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (node.output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (node.output += chunk));
  return node;
}

async function waitForPing(node: ClusterNodeProcess, password: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const client = await authenticated(node.port, password);
      await client.command('PING');
      await client.close();
      return;
    } catch (error) {
      if (node.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`redis-server on port ${node.port} did not start: ${String(error)}\n${node.output}`);
      }
      await delay(50);
    }
  }
}

/** `redis-cli --cluster create`: every slot spread over the masters, no replicas. */
async function createCluster(ports: number[], password: string): Promise<void> {
  const args = ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes', '-a', password, '--no-auth-warning'];
  const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`redis-cli --cluster create exited with ${code}:\n${output}`);
}

async function clusterState(port: number, password: string): Promise<string> {
  const client = await authenticated(port, password);
  try {
    const info = (await client.command('CLUSTER', 'INFO')) as string;
    return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
  } finally {
    await client.close();
  }
}

async function authenticated(port: number, password: string): Promise<RedisClient> {
  const client = await RedisClient.connect(`redis://127.0.0.1:${port}`);
  try {
    await client.command('AUTH', password);
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}
