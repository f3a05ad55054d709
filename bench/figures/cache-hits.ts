/**
 * P4: cache hits. One 100 KiB media is fetched once (so it is stored), then wrk asks the API for
 * it again and again over 64 connections; the anchor is express.static serving the same
 * plaintext from a folder, in a node process of its own, under the same load. The API runs with
 * its per-instance limits on, at limits the bench does not reach.
 * Both servers run throughout and are loaded in turns (static, wamedia, static, ...) for ROUNDS
 * rounds: a busy spell of the host then falls on both sides of a round, and the figure is the
 * median round, where one run of each, minutes apart, swung the ratio from 0.5 to 0.7.
 * Goals: requests/s ≥ 0.7 × static's, and p99 ≤ 1.5 × static's p99; no non-2xx answer.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { downloadBody } from '../../test/support/api-client.js';
import { FakeCdn } from '../../test/support/fake-cdn.js';
import { freePort } from '../../test/support/free-port.js';
import { checkAnswer, downloadThroughApi, INSTANCE } from '../support/api-download.js';
import { CompiledStack } from '../support/compiled-stack.js';
import type { Figure } from '../support/figure.js';
import { postScript, requireWrk, runWrk, type WrkResult } from '../support/wrk.js';

const MEDIA_BYTES = 100 * 1024;
const ROUNDS = Number(process.env.BENCH_P4_ROUNDS ?? 3);
const WARM_UP_SECONDS = 5;
const RPS_GOAL = 0.7;
const P99_GOAL = 1.5;
const staticServer = fileURLToPath(new URL('../support/static-server.mjs', import.meta.url));

/** What wrk loads: a URL, with the Lua script of its requests when they are not plain GETs. */
interface Target {
  url: string;
  lua?: string;
}

function load({ url, lua }: Target, dir: string, durationSeconds = Number(process.env.BENCH_WRK_SECONDS ?? 5)): Promise<WrkResult> {
  return runWrk({
    url,
    threads: 2,
    connections: 64,
    durationSeconds,
    script: lua === undefined ? undefined : { file: path.join(dir, 'post.lua'), lua },
  });
}

/** One round: each server under the same load, one after the other. */
interface Round {
  wamedia: WrkResult;
  static: WrkResult;
}

export async function cacheHits(): Promise<Figure[]> {
  requireWrk();
  const dir = await mkdtemp(path.join(tmpdir(), 'wamedia-bench-p4-'));
  const cdn = await FakeCdn.start();
  try {
    const media = cdn.publish(randomBytes(MEDIA_BYTES), 'image');
    await writeFile(path.join(dir, 'media.bin'), media.plaintext);
    const rounds = await loadInTurns(cdn, media, dir);
    const rps = median(rounds, (round) => round.wamedia.requestsPerSecond / round.static.requestsPerSecond);
    const p99 = median(rounds, (round) => round.wamedia.p99Ms / round.static.p99Ms);
    const clean = rounds.every((round) => round.wamedia.non2xx === 0 && round.wamedia.socketErrors === 0 && round.static.non2xx === 0);
    const details = { rounds };
    return [
      {
        id: 'P4',
        name: 'cache hits 100 KiB, 64 conns (req/s)',
        wamedia: rps.round.wamedia.requestsPerSecond,
        unit: 'req/s',
        anchor: rps.round.static.requestsPerSecond,
        ratio: rps.ratio,
        goal: `ratio ≥ ${RPS_GOAL}, no non-2xx`,
        met: rps.ratio >= RPS_GOAL && clean,
        details,
      },
      {
        id: 'P4',
        name: 'cache hits 100 KiB, 64 conns (p99)',
        wamedia: p99.round.wamedia.p99Ms,
        unit: 'ms',
        anchor: p99.round.static.p99Ms,
        ratio: p99.ratio,
        goal: `ratio ≤ ${P99_GOAL}`,
        met: p99.ratio <= P99_GOAL && clean,
      },
    ];
  } finally {
    await cdn.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The round whose `ratio` is the median of all rounds' (the lower middle one of an even count). */
function median(rounds: Round[], ratio: (round: Round) => number): { round: Round; ratio: number } {
  const sorted = rounds.map((round) => ({ round, ratio: ratio(round) })).sort((a, b) => a.ratio - b.ratio);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

async function loadInTurns(cdn: FakeCdn, media: ReturnType<FakeCdn['publish']>, dir: string): Promise<Round[]> {
  const staticServer = await startStatic(dir);
  const stack = await CompiledStack.start({
    cdnOrigin: cdn.origin,
    env: { INSTANCE_REQUESTS_PER_MINUTE: '100000000', INSTANCE_MAX_JOBS_IN_FLIGHT: '100' },
  });
  try {
    const token = stack.token(INSTANCE);
    const body = JSON.stringify(downloadBody(media));
    // The first request stores it; every later one is a cache hit.
    checkAnswer(await downloadThroughApi({ baseUrl: stack.baseUrl, token, body, hash: true }), media.sha256, MEDIA_BYTES);
    const lua = postScript(body, { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` });
    const wamedia = { url: `${stack.baseUrl}/api/v2/instance/${INSTANCE}/media/directly-download?timeout=600000`, lua };
    // Not counted: the first seconds of load ran both servers at about two thirds of their speed
    // (V8 still compiling their hot paths).
    await load(staticServer, dir, WARM_UP_SECONDS);
    await load(wamedia, dir, WARM_UP_SECONDS);
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const anchor = await load(staticServer, dir);
      rounds.push({ static: anchor, wamedia: await load(wamedia, dir) });
    }
    if (cdn.count() !== 1) throw new Error(`the CDN was asked ${cdn.count()} times: not every request was a cache hit`);
    return rounds;
  } finally {
    await stack.stop();
    staticServer.stop();
  }
}

/** The express.static server on `dir`, listening. */
async function startStatic(dir: string): Promise<Target & { stop: () => void }> {
  const port = await freePort();
  const child = spawn(process.execPath, [staticServer, dir, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the express.static server exited (${code})`)));
    createInterface({ input: child.stdout! }).once('line', () => resolve());
  });
  return { url: `http://127.0.0.1:${port}/media.bin`, stop: () => child.kill('SIGTERM') };
}
