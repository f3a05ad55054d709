/**
 * P7: 5,000 requests waiting at once. 1,250 distinct 10 KiB media, each asked for by 4
 * concurrent requests, from a CDN that holds every response 1 s; the service is `pnpm start`
 * spawned as a real command (build, supervisor, API, worker). Every answer must be a 200 with
 * the right bytes, no process may warn MaxListenersExceededWarning, and the memory of the pnpm
 * process and all its descendants (their PSS summed, sampled every 100 ms: see proc-memory.ts)
 * must stay ≤ 400 MiB.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent } from 'undici';
import { downloadBody } from '../../test/support/api-client.js';
import { FakeCdn } from '../../test/support/fake-cdn.js';
import { freePortRun } from '../../test/support/free-port.js';
import { deleteKeysUnder } from '../../test/support/redis-client.js';
import { repoRoot } from '../../test/support/service-process.js';
import { signToken } from '../../test/support/tokens.js';
import { downloadThroughApi, INSTANCE } from '../support/api-download.js';
import { benchSettings, serviceEnv, waitReady } from '../support/compiled-stack.js';
import { scaled, type Figure } from '../support/figure.js';
import { MiB, sampleTreeMemory } from '../support/proc-memory.js';

const MEDIA_BYTES = 10 * 1024;
const REQUESTS_PER_MEDIA = 4;
const HOLD_MS = 1_000;
const GOAL_BYTES = 400 * MiB;
/** 1,250 jobs held 1 s each: 8 at a time would take ~160 s of waiting; 64 makes it ~20 s. */
const WORKER_CONCURRENCY = process.env.BENCH_P7_WORKER_CONCURRENCY ?? '64';
const WARNING = 'MaxListenersExceededWarning';

export async function waitingRequests(): Promise<Figure> {
  const mediaCount = scaled(1_250, 1);
  const requests = mediaCount * REQUESTS_PER_MEDIA;
  const cdn = await FakeCdn.start();
  const tempDir = await mkdtemp(path.join(tmpdir(), 'wamedia-bench-p7-'));
  // The API's port, then the workers' health ports: `pnpm start` gives worker i WORKER_HEALTH_PORT + i,
  // so two ports picked apart could see a worker take the API's.
  const apiPort = await freePortRun(1 + availableParallelism());
  const healthPort = apiPort + 1;
  const env = benchSettings(tempDir, cdn.origin, {
    PORT: String(apiPort),
    WORKER_HEALTH_PORT: String(healthPort),
    WORKER_CONCURRENCY,
  });
  // undici's 10 s connect timeout is too short here: the API listens with node's default backlog
  // (511), so most of 5,000 simultaneous SYNs are dropped at first and get in on a retransmit.
  const dispatcher = new Agent({ connections: requests, keepAliveTimeout: 1_000, connect: { timeout: 120_000 } });
  let service: PnpmStart | undefined;
  try {
    const medias = Array.from({ length: mediaCount }, () => cdn.publish(randomBytes(MEDIA_BYTES), 'image'));
    for (const media of medias) {
      for (const pathname of [media.directPathname, media.urlPathname]) cdn.setBehaviour(pathname, { kind: 'serve', headerDelayMs: HOLD_MS });
    }
    service = startPnpm(env);
    const baseUrl = `http://127.0.0.1:${apiPort}`;
    await Promise.all([waitReady(baseUrl, undefined, 120_000), waitReady(`http://127.0.0.1:${healthPort}`, undefined, 120_000)]);
    const sampler = sampleTreeMemory(service.child.pid!);
    const token = signToken(INSTANCE, env.JWT_SECRET!);
    /** How many requests ended how: "ok", "HTTP <status> <body>", "client error <code>". */
    const outcomes: Record<string, number> = {};
    const started = performance.now();
    const answers = await Promise.all(
      medias.flatMap((media) => {
        const body = JSON.stringify(downloadBody(media));
        return Array.from({ length: REQUESTS_PER_MEDIA }, () =>
          downloadThroughApi({ baseUrl, token, body, hash: true, dispatcher }).then(
            (answer) => {
              const outcome = answer.status !== 200 ? `HTTP ${answer.status} ${answer.errorText ?? ''}`.slice(0, 120) : answer.sha256 === media.sha256 ? 'ok' : 'wrong bytes';
              outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
              return outcome === 'ok';
            },
            (error: Error & { code?: string }) => {
              const outcome = `client error ${error.code ?? error.message}`;
              outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
              return false;
            },
          ),
        );
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const { maxBytes: peakTree, maxRssSumBytes, perProcess } = sampler.stop();
    const good = answers.filter(Boolean).length;
    const warned = service.output().includes(WARNING);
    return {
      id: 'P7',
      name: `${requests} waiting requests, pnpm start tree memory (PSS)`,
      wamedia: peakTree / MiB,
      unit: 'MiB',
      goal: `≤ ${GOAL_BYTES / MiB} MiB, all 200 + right bytes, no ${WARNING}`,
      met: peakTree <= GOAL_BYTES && good === requests && !warned,
      details: { requests, ok: good, outcomes, maxListenersWarning: warned, seconds, cdnRequests: cdn.count(), workerConcurrency: Number(WORKER_CONCURRENCY), rssSumMiB: maxRssSumBytes / MiB,
        peakPssMiBPerProcess: Object.fromEntries(Object.entries(perProcess).map(([name, bytes]) => [name, bytes / MiB])),
      },
    };
  } finally {
    await service?.stop();
    await dispatcher.close();
    await cdn.close();
    await deleteKeysUnder(env.REDIS_URL!, env.REDIS_PREFIX!);
    await rm(tempDir, { recursive: true, force: true });
  }
}

interface PnpmStart {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `pnpm start` in the repo, leader of a process group of its own so that it can be stopped whole. */
function startPnpm(settings: Record<string, string>): PnpmStart {
  const child = spawn('pnpm', ['start'], { cwd: repoRoot, env: serviceEnv(settings), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(-child.pid!, 'SIGTERM');
      const timedOut = await Promise.race([exited.then(() => false), delay(20_000).then(() => true)]);
      if (timedOut) process.kill(-child.pid!, 'SIGKILL');
      await exited;
    },
  };
}
