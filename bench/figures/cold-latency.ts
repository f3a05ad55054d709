/**
 * P5: what wamedia adds to a cold request. ~200 distinct 100 KiB media are requested one after
 * the other through the API (API → queue → worker → CDN → store → answer); from the p50 latency
 * is taken the p50 time decryptMedia needs for the same files in this process, the part no
 * service can avoid. A few untimed requests go first, so the processes' JIT is warm.
 * Goal: p50 latency − p50 decrypt ≤ 5 ms.
 */
import { randomBytes } from 'node:crypto';
import { decryptMedia } from '@wamedia/shared';
import { downloadBody } from '../../test/support/api-client.js';
import { FakeCdn, type PublishedMedia } from '../../test/support/fake-cdn.js';
import { checkAnswer, downloadThroughApi, INSTANCE } from '../support/api-download.js';
import { CompiledStack } from '../support/compiled-stack.js';
import { percentile, scaled, type Figure } from '../support/figure.js';

const MEDIA_BYTES = 100 * 1024;
const WARM_UP = 10;
const GOAL_MS = 5;

export async function coldLatency(): Promise<Figure> {
  const count = scaled(200, 10);
  const cdn = await FakeCdn.start();
  try {
    const medias = Array.from({ length: WARM_UP + count }, () => cdn.publish(randomBytes(MEDIA_BYTES), 'image'));
    const stack = await CompiledStack.start({ cdnOrigin: cdn.origin });
    const latencies: number[] = [];
    try {
      const token = stack.token(INSTANCE);
      for (const [i, media] of medias.entries()) {
        const body = JSON.stringify(downloadBody(media));
        const started = performance.now();
        const answer = await downloadThroughApi({ baseUrl: stack.baseUrl, token, body });
        if (i >= WARM_UP) latencies.push(performance.now() - started);
        checkAnswer(answer, media.sha256, MEDIA_BYTES);
      }
    } finally {
      await stack.stop();
    }
    const decrypts = medias.slice(WARM_UP).map(timeDecrypt);
    latencies.sort((a, b) => a - b);
    decrypts.sort((a, b) => a - b);
    const p50 = percentile(latencies, 0.5);
    const decryptP50 = percentile(decrypts, 0.5);
    const overhead = p50 - decryptP50;
    return {
      id: 'P5',
      name: `cold 100 KiB, p50 − decrypt (${count} media)`,
      wamedia: overhead,
      unit: 'ms',
      goal: `≤ ${GOAL_MS} ms`,
      met: overhead <= GOAL_MS,
      details: { latencyP50Ms: p50, latencyP90Ms: percentile(latencies, 0.9), latencyP99Ms: percentile(latencies, 0.99), decryptP50Ms: decryptP50 },
    };
  } finally {
    await cdn.close();
  }
}

/** ms decryptMedia takes for `media` (the best of 3, so a GC pause does not count). */
function timeDecrypt(media: PublishedMedia): number {
  const options = {
    contentType: media.contentType,
    mediaKey: Buffer.from(media.mediaKey, 'base64'),
    fileSha256: Buffer.from(media.fileSha256, 'base64'),
    fileEncSha256: Buffer.from(media.fileEncSha256, 'base64'),
    fileLength: media.fileLength,
  };
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    decryptMedia(media.enc, options);
    best = Math.min(best, performance.now() - started);
  }
  return best;
}
