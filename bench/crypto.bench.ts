/**
 * `pnpm bench:crypto`: the DecryptStream against the four crypto primitives (figure P1 of
 * `pnpm bench`), and its peak RSS decrypting a 1 GiB .enc from disk in a child process
 * (goal ≤ 100 MiB). Exits non-zero when a goal is missed.
 */
import { decryptThroughput, measurePeakRss, PEAK_RSS_FILE_BYTES, PEAK_RSS_GOAL } from './figures/decrypt-throughput.js';
import { printTable } from './support/figure.js';
import { MiB } from './support/proc-memory.js';

const toMiB = (bytes: number) => (bytes / MiB).toFixed(1);

const figure = await decryptThroughput();
printTable([figure]);

console.log(`\nPeak RSS decrypting a ${PEAK_RSS_FILE_BYTES / MiB} MiB .enc from disk (child process):`);
const { baselineBytes, peakBytes, seconds } = await measurePeakRss();
const rssMet = peakBytes <= PEAK_RSS_GOAL;
console.log(
  `peak RSS ${toMiB(peakBytes)} MiB (goal ≤ ${PEAK_RSS_GOAL / MiB} MiB): ${rssMet ? 'met' : 'NOT met'}; ` +
    `${toMiB(baselineBytes)} MiB before the first byte; ${Math.round(PEAK_RSS_FILE_BYTES / MiB / seconds)} MiB/s from disk`,
);
if (!figure.met || !rssMet) process.exitCode = 1;
