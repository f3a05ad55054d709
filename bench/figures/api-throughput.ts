/**
 * P2: aggregate throughput of 4 concurrent 256 MiB videos fetched through the HTTP API (API →
 * queue → worker → CDN → store → answer), against Baileys' downloadContentFromMessage fetching
 * and decrypting the same 4 .enc files in one process from the same local file CDN.
 * Each side first takes 4 untimed 16 MiB media the same way, as long-running processes would
 * have: the first big download of a fresh process cost it ~1.6x the CPU of the next (V8 still
 * compiling the stream path, the allocator still growing).
 * The details say how many MiB each worker took: BullMQ hands jobs to whichever worker asks
 * first, so the split varies from run to run (docs/operations.md weighs it).
 * Goal: wamedia ≥ 0.6 × Baileys.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { downloadContentFromMessage } from 'baileys';
import { downloadBody } from '../../test/support/api-client.js';
import { checkAnswer, downloadThroughApi, INSTANCE } from '../support/api-download.js';
import { CompiledStack } from '../support/compiled-stack.js';
import { publishEncFile, writeEncFile, type PublishedEncFile } from '../support/enc-file.js';
import { FileCdn } from '../support/file-cdn.js';
import { scaled, type Figure } from '../support/figure.js';
import { MiB } from '../support/proc-memory.js';

const MEDIA = 4;
const WARM_UP_BYTES = 16 * MiB;
const GOAL = 0.6;

export async function apiThroughput(): Promise<Figure> {
  const bytes = scaled(256 * MiB, MiB);
  const dir = await mkdtemp(path.join(tmpdir(), 'wamedia-bench-p2-'));
  const cdn = await FileCdn.start();
  try {
    const warmUps: PublishedEncFile[] = [];
    const medias: PublishedEncFile[] = [];
    for (let i = 0; i < MEDIA; i++) {
      warmUps.push(publishEncFile(cdn, await writeEncFile(path.join(dir, `warm-up-${i}.enc`), Math.min(WARM_UP_BYTES, bytes), 'video'), `p2-warm-up-${i}`));
      medias.push(publishEncFile(cdn, await writeEncFile(path.join(dir, `${i}.enc`), bytes, 'video'), `p2-${i}`));
    }
    const { seconds: wamediaSeconds, mibPerWorker } = await throughWamedia(cdn, warmUps, medias);
    await throughBaileys(warmUps);
    const baileysSeconds = await throughBaileys(medias);
    const total = (MEDIA * bytes) / MiB;
    const wamedia = total / wamediaSeconds;
    const anchor = total / baileysSeconds;
    return {
      id: 'P2',
      name: `${MEDIA} × ${+(bytes / MiB).toFixed(1)} MiB video via API`,
      wamedia,
      unit: 'MiB/s',
      anchor,
      ratio: wamedia / anchor,
      goal: `ratio ≥ ${GOAL}`,
      met: wamedia / anchor >= GOAL,
      details: { bytesEach: bytes, wamediaSeconds, baileysSeconds, mibPerWorker },
    };
  } finally {
    await cdn.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Seconds for the API to answer all of `medias` at once, each checked, once it has answered
 * `warmUps` the same way; and the .enc MiB each worker downloaded for `medias`.
 */
async function throughWamedia(cdn: FileCdn, warmUps: PublishedEncFile[], medias: PublishedEncFile[]): Promise<{ seconds: number; mibPerWorker: number[] }> {
  const stack = await CompiledStack.start({ cdnOrigin: cdn.origin });
  try {
    const token = stack.token(INSTANCE);
    const answerAll = async (batch: PublishedEncFile[]) => {
      const answers = await Promise.all(batch.map((media) => downloadThroughApi({ baseUrl: stack.baseUrl, token, body: JSON.stringify(downloadBody(media)) })));
      answers.forEach((answer, i) => checkAnswer(answer, batch[i]!.sha256, batch[i]!.fileLength));
    };
    await answerAll(warmUps);
    const before = await stack.downloadedBytesPerWorker();
    const started = performance.now();
    await answerAll(medias);
    const seconds = (performance.now() - started) / 1000;
    const after = await stack.downloadedBytesPerWorker();
    return { seconds, mibPerWorker: after.map((bytes, i) => Math.round((bytes - before[i]!) / MiB)) };
  } finally {
    await stack.stop();
  }
}

/** Seconds for Baileys to fetch and decrypt all of `medias` at once, in this process. */
async function throughBaileys(medias: PublishedEncFile[]): Promise<number> {
  const started = performance.now();
  const counts = await Promise.all(
    medias.map(async (media) => {
      // No directPath: with one Baileys fetches from https://mmg.whatsapp.net instead of the url.
      const stream = await downloadContentFromMessage({ mediaKey: Buffer.from(media.mediaKey, 'base64'), url: media.url }, 'video');
      let bytes = 0;
      for await (const chunk of stream) bytes += (chunk as Buffer).length;
      return bytes;
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  counts.forEach((bytes, i) => {
    if (bytes !== medias[i]!.fileLength) throw new Error(`Baileys gave ${bytes} bytes, expected ${medias[i]!.fileLength}`);
  });
  return seconds;
}
