/**
 * P4: cache hits. One 100 KiB media is fetched once (so it is stored), then wrk asks the API for
 * it again and again over 64 connections; the anchor is express.static serving the same
 * plaintext from a folder, in a node process of its own, under the same load. The API runs with
 * its per-instance limits on, at limits the bench does not reach.
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
const RPS_GOAL = 0.7;
const P99_GOAL = 1.5;
const staticServer = fileURLToPath(new URL('../support/static-server.mjs', import.meta.url));

function load(url: string, dir: string, lua?: string): Promise<WrkResult> {
  return runWrk({
    url,
    threads: 2,
    connections: 64,
    durationSeconds: Number(process.env.BENCH_WRK_SECONDS ?? 10),
    script: lua === undefined ? undefined : { file: path.join(dir, 'post.lua'), lua },
  });
}

export async function cacheHits(): Promise<Figure[]> {
  requireWrk();
  const dir = await mkdtemp(path.join(tmpdir(), 'wamedia-bench-p4-'));
  const cdn = await FakeCdn.start();
  try {
    const media = cdn.publish(randomBytes(MEDIA_BYTES), 'image');
    await writeFile(path.join(dir, 'media.bin'), media.plaintext);
    const staticResult = await loadStatic(dir);
    const wamediaResult = await loadWamedia(cdn, media, dir);
    const rpsRatio = wamediaResult.requestsPerSecond / staticResult.requestsPerSecond;
    const p99Ratio = wamediaResult.p99Ms / staticResult.p99Ms;
    const clean = wamediaResult.non2xx === 0 && wamediaResult.socketErrors === 0 && staticResult.non2xx === 0;
    const details = { wamedia: wamediaResult, static: staticResult };
    return [
      {
        id: 'P4',
        name: 'cache hits 100 KiB, 64 conns (req/s)',
        wamedia: wamediaResult.requestsPerSecond,
        unit: 'req/s',
        anchor: staticResult.requestsPerSecond,
        ratio: rpsRatio,
        goal: `ratio ≥ ${RPS_GOAL}, no non-2xx`,
        met: rpsRatio >= RPS_GOAL && clean,
        details,
      },
      {
        id: 'P4',
        name: 'cache hits 100 KiB, 64 conns (p99)',
        wamedia: wamediaResult.p99Ms,
        unit: 'ms',
        anchor: staticResult.p99Ms,
        ratio: p99Ratio,
        goal: `ratio ≤ ${P99_GOAL}`,
        met: p99Ratio <= P99_GOAL && clean,
      },
    ];
  } finally {
    await cdn.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function loadStatic(dir: string): Promise<WrkResult> {
  const port = await freePort();
  const child = spawn(process.execPath, [staticServer, dir, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the express.static server exited (${code})`)));
      createInterface({ input: child.stdout! }).once('line', () => resolve());
    });
    return await load(`http://127.0.0.1:${port}/media.bin`, dir);
  } finally {
    child.kill('SIGTERM');
  }
}

async function loadWamedia(cdn: FakeCdn, media: ReturnType<FakeCdn['publish']>, dir: string): Promise<WrkResult> {
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
    const result = await load(`${stack.baseUrl}/api/v2/instance/${INSTANCE}/media/directly-download?timeout=600000`, dir, lua);
    if (cdn.count() !== 1) throw new Error(`the CDN was asked ${cdn.count()} times: not every request was a cache hit`);
    return result;
  } finally {
    await stack.stop();
  }
}
