/**
 * P8: 10,000 distinct 10 KiB media through the batch route, with the compiled API and two
 * compiled workers as separate processes, a real Redis, the folder store and a fake CDN in this
 * process. Measures items per second, and the latency of each item from its batch's submission
 * to the first status poll that shows it completed (polls every POLL_MS, so latencies are
 * rounded up by at most that much). Goal: ≥ 2,000 media/s.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import type { BatchStatus } from '@wamedia/shared';
import { downloadBody } from '../../test/support/api-client.js';
import { FakeCdn, type PublishedMedia } from '../../test/support/fake-cdn.js';
import { INSTANCE } from '../support/api-download.js';
import { CompiledStack } from '../support/compiled-stack.js';
import { percentile, scaled, type Figure } from '../support/figure.js';

const ITEM_BYTES = 10 * 1024;
const BATCH_SIZE = 1_000;
const WORKERS = 2;
const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 16);
const POLL_MS = 100;
const GOAL = 2_000;

interface Run {
  wallMs: number;
  latenciesMs: number[];
  failed: number;
}

export async function batchThroughput(): Promise<Figure> {
  const items = Number(process.env.BENCH_ITEMS ?? scaled(10_000, 10));
  const cdn = await FakeCdn.start();
  try {
    const medias = Array.from({ length: items }, () => cdn.publish(randomBytes(ITEM_BYTES), 'image'));
    const stack = await CompiledStack.start({
      cdnOrigin: cdn.origin,
      workers: WORKERS,
      env: { WORKER_CONCURRENCY: String(WORKER_CONCURRENCY), BATCH_MAX_ITEMS: String(BATCH_SIZE) },
    });
    let result: Run;
    try {
      result = await run(stack, medias);
    } finally {
      await stack.stop();
    }
    const { wallMs, latenciesMs, failed } = result;
    const perSecond = (latenciesMs.length / wallMs) * 1000;
    const downloads = cdn.count();
    return {
      id: 'P8',
      name: `${items} × 10 KiB via batch, ${WORKERS} workers`,
      wamedia: perSecond,
      unit: 'media/s',
      goal: `≥ ${GOAL} media/s, none failed`,
      met: perSecond >= GOAL && failed === 0 && downloads === items,
      details: {
        items,
        failed,
        cdnDownloads: downloads,
        workerConcurrency: WORKER_CONCURRENCY,
        wallSeconds: wallMs / 1000,
        itemLatencyP50Seconds: percentile(latenciesMs, 0.5) / 1000,
        itemLatencyP99Seconds: percentile(latenciesMs, 0.99) / 1000,
        itemLatencyMaxSeconds: latenciesMs.at(-1)! / 1000,
      },
    };
  } finally {
    await cdn.close();
  }
}

async function call<T>(stack: CompiledStack, method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; json: T; text: string }> {
  const response = await request(`${stack.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.token(INSTANCE)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body,
  });
  const text = await response.body.text();
  return { status: response.statusCode, text, json: (response.statusCode < 300 ? JSON.parse(text) : undefined) as T };
}

async function run(stack: CompiledStack, medias: PublishedMedia[]): Promise<Run> {
  const started = performance.now();
  const submitted = new Map<string, number>();
  const batchIds: string[] = [];
  for (let offset = 0; offset < medias.length; offset += BATCH_SIZE) {
    const items = medias.slice(offset, offset + BATCH_SIZE).map((media, i) => ({ id: `m${offset + i}`, ...downloadBody(media) }));
    const at = performance.now();
    const response = await call<BatchStatus>(stack, 'POST', `/api/v2/instance/${INSTANCE}/media/batch`, JSON.stringify({ items }));
    if (response.status !== 202) throw new Error(`batch refused: HTTP ${response.status} ${response.text.slice(0, 200)}`);
    batchIds.push(response.json.batchId);
    for (const item of response.json.items) submitted.set(item.id, at);
  }
  const finished = new Map<string, number>();
  let failed = 0;
  const open = new Set(batchIds);
  while (open.size > 0) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    for (const batchId of [...open]) {
      const status = (await call<BatchStatus>(stack, 'GET', `/api/v2/instance/${INSTANCE}/media/batch/${batchId}?limit=${BATCH_SIZE}`)).json;
      const now = performance.now();
      for (const item of status.items) {
        if (item.status === 'pending' || finished.has(item.id)) continue;
        finished.set(item.id, now);
        if (item.status !== 'completed') failed++;
      }
      if (status.done) open.delete(batchId);
    }
  }
  const latenciesMs = [...finished].map(([id, at]) => at - submitted.get(id)!).sort((a, b) => a - b);
  return { wallMs: Math.max(...finished.values()) - started, latenciesMs, failed };
}
