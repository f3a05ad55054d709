/**
 * `pnpm bench`: every figure of wamedia's performance goals, measured in one run on this machine
 * next to its anchor, printed as one table and written as JSON to bench/results/<ISO time>.json.
 * `pnpm bench -- --only P4,P5` (or BENCH_ONLY=P4,P5) runs a subset; BENCH_SCALE=0.1 shrinks every
 * size and count (for trying the bench out; the goals are about BENCH_SCALE=1).
 * Exits non-zero when a goal is missed or a figure fails.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiPeakRss } from './figures/api-peak-rss.js';
import { apiThroughput } from './figures/api-throughput.js';
import { batchThroughput } from './figures/batch-throughput.js';
import { cacheHits } from './figures/cache-hits.js';
import { coldLatency } from './figures/cold-latency.js';
import { decryptThroughput } from './figures/decrypt-throughput.js';
import { waitingRequests } from './figures/waiting-requests.js';
import { benchScale, failedFigure, printTable, type Figure } from './support/figure.js';

interface FigureRun {
  id: string;
  /** Name and goal for the row of a figure that throws. */
  name: string;
  goal: string;
  run: () => Promise<Figure | Figure[]>;
}

const FIGURES: FigureRun[] = [
  { id: 'P1', name: 'DecryptStream vs 4 primitives', goal: 'ratio ≥ 0.85', run: decryptThroughput },
  { id: 'P2', name: '4 × 256 MiB video via API', goal: 'ratio ≥ 0.6', run: apiThroughput },
  { id: 'P3', name: 'peak RSS per process, 1 GiB via API', goal: '≤ 150 MiB', run: apiPeakRss },
  { id: 'P4', name: 'cache hits, 100 KiB, 64 connections', goal: 'rps ratio ≥ 0.7, p99 ≤ 1.5 × static', run: cacheHits },
  { id: 'P5', name: 'cold 100 KiB p50 − decrypt', goal: '≤ 5 ms', run: coldLatency },
  { id: 'P7', name: '5000 waiting requests, pnpm start tree memory', goal: 'all 200, ≤ 400 MiB', run: waitingRequests },
  { id: 'P8', name: '10,000 × 10 KiB via batch, 2 workers', goal: '≥ 2000 media/s', run: batchThroughput },
];

const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');

/** The ids asked for by `--only A,B` or BENCH_ONLY; every figure when neither is given. */
function selected(): Set<string> {
  const at = process.argv.indexOf('--only');
  const only = (at >= 0 ? process.argv[at + 1] : undefined) ?? process.env.BENCH_ONLY;
  if (!only) return new Set(FIGURES.map((f) => f.id));
  const ids = new Set(only.split(',').map((id) => id.trim().toUpperCase()).filter(Boolean));
  const unknown = [...ids].filter((id) => !FIGURES.some((f) => f.id === id));
  if (unknown.length > 0) throw new Error(`unknown figure(s) ${unknown.join(', ')}; known: ${FIGURES.map((f) => f.id).join(', ')}`);
  return ids;
}

function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    totalMemoryMiB: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

async function main(): Promise<void> {
  const ids = selected();
  const startedAt = new Date();
  const figures: Figure[] = [];
  for (const figure of FIGURES.filter((f) => ids.has(f.id))) {
    console.error(`\n== ${figure.id}: ${figure.name} ==`);
    const started = performance.now();
    try {
      figures.push(...[await figure.run()].flat());
    } catch (error) {
      console.error(error);
      figures.push(failedFigure(figure.id, figure.name, figure.goal, error));
    }
    console.error(`${figure.id} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  console.log(`\nwamedia bench, ${startedAt.toISOString()}, BENCH_SCALE=${benchScale()}`);
  printTable(figures);
  await mkdir(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${startedAt.toISOString().replace(/:/g, '-')}.json`);
  const report = { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), scale: benchScale(), machine: machine(), figures };
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwritten to ${path.relative(process.cwd(), file)}`);
  if (figures.some((f) => !f.met)) process.exitCode = 1;
}

await main();
