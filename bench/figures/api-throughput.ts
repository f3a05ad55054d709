/**
 * P2: aggregate throughput of 4 concurrent 256 MiB videos fetched through the HTTP API (API →
 * queue → worker → CDN → store → answer), against Baileys' downloadContentFromMessage fetching
 * and decrypting the same 4 .enc files in one process from the same local file CDN.
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
const GOAL = 0.6;

export async function apiThroughput(): Promise<Figure> {
  const bytes = scaled(256 * MiB, MiB);
  const dir = await mkdtemp(path.join(tmpdir(), 'wamedia-bench-p2-'));
  const cdn = await FileCdn.start();
  try {
    const medias: PublishedEncFile[] = [];
    for (let i = 0; i < MEDIA; i++) {
      medias.push(publishEncFile(cdn, await writeEncFile(path.join(dir, `${i}.enc`), bytes, 'video'), `p2-${i}`));
    }
    const wamediaSeconds = await throughWamedia(cdn, medias);
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
      details: { bytesEach: bytes, wamediaSeconds, baileysSeconds },
    };
  } finally {
    await cdn.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Seconds for the API to answer all of `medias` at once, each checked. */
async function throughWamedia(cdn: FileCdn, medias: PublishedEncFile[]): Promise<number> {
  const stack = await CompiledStack.start({ cdnOrigin: cdn.origin });
  try {
    const token = stack.token(INSTANCE);
    const started = performance.now();
    const answers = await Promise.all(medias.map((media) => downloadThroughApi({ baseUrl: stack.baseUrl, token, body: JSON.stringify(downloadBody(media)) })));
    const seconds = (performance.now() - started) / 1000;
    answers.forEach((answer, i) => checkAnswer(answer, medias[i]!.sha256, medias[i]!.fileLength));
    return seconds;
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
