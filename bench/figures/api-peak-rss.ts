/**
 * P3: peak RSS (VmHWM) of each wamedia process, fresh API processes (and their supervisor) and a
 * fresh worker, while one 1 GiB media goes through the API. Goal: every process ≤ 150 MiB.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { downloadBody } from '../../test/support/api-client.js';
import { checkAnswer, downloadThroughApi, INSTANCE } from '../support/api-download.js';
import { CompiledStack } from '../support/compiled-stack.js';
import { publishEncFile, writeEncFile } from '../support/enc-file.js';
import { FileCdn } from '../support/file-cdn.js';
import { scaled, type Figure } from '../support/figure.js';
import { MiB, peakRss, processTree } from '../support/proc-memory.js';

const GOAL_BYTES = 150 * MiB;

export async function apiPeakRss(): Promise<Figure> {
  const bytes = scaled(1024 * MiB, MiB);
  const dir = await mkdtemp(path.join(tmpdir(), 'wamedia-bench-p3-'));
  const cdn = await FileCdn.start();
  try {
    const media = publishEncFile(cdn, await writeEncFile(path.join(dir, 'big.enc'), bytes, 'document'), 'p3');
    const stack = await CompiledStack.start({ cdnOrigin: cdn.origin, workers: 1 });
    try {
      const started = performance.now();
      const answer = await downloadThroughApi({ baseUrl: stack.baseUrl, token: stack.token(INSTANCE), body: JSON.stringify(downloadBody(media)) });
      const seconds = (performance.now() - started) / 1000;
      checkAnswer(answer, media.sha256, media.fileLength);
      const peaks = Object.fromEntries(
        stack.processes.flatMap((p) => processTree(p.pid!).map((pid, i) => [i === 0 ? p.name : `${p.name}-${pid}`, peakRss(pid) / MiB])),
      );
      const highest = Math.max(...Object.values(peaks));
      return {
        id: 'P3',
        name: `peak RSS per process, ${+(bytes / MiB).toFixed(1)} MiB via API`,
        wamedia: highest,
        unit: 'MiB',
        goal: `≤ ${GOAL_BYTES / MiB} MiB`,
        met: highest <= GOAL_BYTES / MiB,
        details: { peakMiB: peaks, seconds, bytes },
      };
    } finally {
      await stack.stop();
    }
  } finally {
    await cdn.close();
    await rm(dir, { recursive: true, force: true });
  }
}
