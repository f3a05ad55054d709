/**
 * `pnpm bench:batch`: 10,000 distinct 10 KiB media through the batch route with two compiled
 * workers (figure P8 of `pnpm bench`). BENCH_ITEMS and BENCH_WORKER_CONCURRENCY change the run.
 * Exits non-zero when the goal is missed or an item fails.
 */
import { batchThroughput } from './figures/batch-throughput.js';
import { printTable } from './support/figure.js';

const figure = await batchThroughput();
printTable([figure]);
console.log(JSON.stringify(figure.details, null, 2));
if (!figure.met) process.exitCode = 1;
