/**
 * `pnpm bench:batch`: 10,000 distinct 10 KiB media through the batch route, with the API and
 * two workers as separate processes on this machine, a real Redis, the folder store and a fake
 * CDN in this process. Prints items per second and the latency of each item from its batch's
 * submission to the first status poll that shows it completed (polls every POLL_MS, so
 * latencies are rounded up by at most that much).
 */
import { randomBytes } from 'node:crypto';
import type { BatchStatus } from '@wamedia/shared';
import { ApiClient, downloadBody } from '../test/support/api-client.js';
import { FakeCdn, type PublishedMedia } from '../test/support/fake-cdn.js';
import { Stack } from '../test/support/stack.js';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 10_000);
const ITEM_BYTES = 10 * 1024;
const BATCH_SIZE = 1_000;
const WORKERS = 2;
const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 16);
const POLL_MS = 100;
const INSTANCE = 'bench';

async function main(): Promise<void> {
  const cdn = await FakeCdn.start();
  const medias = Array.from({ length: ITEMS }, () => cdn.publish(randomBytes(ITEM_BYTES), 'image'));
  const stack = await Stack.start({
    cdn,
    workers: WORKERS,
    env: {
      WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
      BATCH_MAX_ITEMS: String(BATCH_SIZE),
      // A benchmark is one tenant on purpose: no per-instance limits.
      INSTANCE_REQUESTS_PER_MINUTE: '0',
      INSTANCE_MAX_JOBS_IN_FLIGHT: '0',
    },
  });
  try {
    const api = new ApiClient(stack);
    const result = await run(api, medias);
    const downloads = cdn.count();
    report(result, downloads);
  } finally {
    await stack.stop();
    await cdn.close();
  }
}

interface Run {
  wallMs: number;
  latenciesMs: number[];
  failed: number;
}

async function run(api: ApiClient, medias: PublishedMedia[]): Promise<Run> {
  const started = performance.now();
  const submitted = new Map<string, number>();
  const batchIds: string[] = [];
  for (let offset = 0; offset < medias.length; offset += BATCH_SIZE) {
    const items = medias.slice(offset, offset + BATCH_SIZE).map((media, i) => ({ id: `m${offset + i}`, ...downloadBody(media) }));
    const at = performance.now();
    const response = await api.call('POST', `/api/v2/instance/${INSTANCE}/media/batch`, {
      instanceId: INSTANCE,
      body: JSON.stringify({ items }),
    });
    if (response.status !== 202) throw new Error(`batch refused: HTTP ${response.status} ${response.body.toString().slice(0, 200)}`);
    const batch = response.json<BatchStatus>();
    batchIds.push(batch.batchId);
    for (const item of batch.items) submitted.set(item.id, at);
  }
  const finished = new Map<string, number>();
  let failed = 0;
  const open = new Set(batchIds);
  while (open.size > 0) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    for (const batchId of [...open]) {
      const status = (await api.get(`/api/v2/instance/${INSTANCE}/media/batch/${batchId}?limit=${BATCH_SIZE}`, INSTANCE)).json<BatchStatus>();
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

function report({ wallMs, latenciesMs, failed }: Run, downloads: number): void {
  const at = (q: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))]!;
  const seconds = (ms: number) => (ms / 1000).toFixed(2);
  console.log(`\nbench:batch — ${ITEMS} distinct ${ITEM_BYTES / 1024} KiB media, ${WORKERS} workers × concurrency ${WORKER_CONCURRENCY}, batches of ${BATCH_SIZE}`);
  console.table([
    { measure: 'items completed', value: latenciesMs.length - failed },
    { measure: 'items failed', value: failed },
    { measure: 'CDN downloads', value: downloads },
    { measure: 'wall time (s)', value: seconds(wallMs) },
    { measure: 'items per second', value: Math.round((latenciesMs.length / wallMs) * 1000) },
    { measure: 'item latency p50 (s)', value: seconds(at(0.5)) },
    { measure: 'item latency p99 (s)', value: seconds(at(0.99)) },
    { measure: 'item latency max (s)', value: seconds(latenciesMs.at(-1)!) },
  ]);
  if (failed > 0 || downloads !== ITEMS) process.exitCode = 1;
}

await main();
