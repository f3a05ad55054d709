import { setTimeout as delay } from 'node:timers/promises';
import { WamediaApiError, type BatchItem, type BatchItemRequestInput, type BatchStatus, type WamediaClient } from '@wamedia/client';
import type { InputLine } from './input-lines.js';
import type { Manifest, ManifestEntry, ManifestError } from './manifest.js';
import { MediaMismatchError, saveMedia } from './media-file.js';
import { UnsafeOutputPathError, outputPath } from './output-path.js';
import type { Progress } from './progress.js';
import { TaskPool } from './task-pool.js';

export interface BatchRunnerOptions {
  client: WamediaClient;
  /** Where the files go (it holds the manifest too). */
  outDir: string;
  manifest: Manifest;
  progress: Progress;
  /** Files downloaded at once. */
  concurrency: number;
  /** Items per batch request, 1 to 1000. */
  chunkSize: number;
  /** Pause between two polls of a batch, in ms. */
  pollIntervalMs: number;
  /** Stops the run: nothing more is submitted or fetched, files being written are dropped. */
  signal: AbortSignal;
}

/** Batches submitted and followed at once: the next is queued on the API while one is fetched. */
const BATCHES_IN_FLIGHT = 2;
/** Tries per file, for failures another try may fix (network, 5xx, bytes not matching the ETag). */
const FETCH_ATTEMPTS = 3;
const SUBMIT_ATTEMPTS = 3;
const RETRY_BACKOFF_MS = 500;

/**
 * One run of `wamedia batch`: skips the items an earlier run finished, records the invalid
 * lines, submits the rest in chunks, and downloads each file as soon as its item completes,
 * recording every item in the manifest as it ends.
 *
 * A run stops early on its signal (the items not finished are left for the next run) or on a
 * failure that concerns the whole run (the API refusing the token, a full disk), thrown by run().
 */
export class BatchRunner {
  private readonly files: TaskPool;
  private readonly lines = new Map<string, number>();
  /** Aborted by the caller's signal, or by a failure of the whole run. */
  private readonly stop = new AbortController();
  private fatal: { error: unknown } | undefined;

  constructor(private readonly options: BatchRunnerOptions) {
    this.files = new TaskPool(options.concurrency);
  }

  async run(input: InputLine[]): Promise<void> {
    const { signal, manifest, progress } = this.options;
    const onAbort = () => this.stop.abort(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const pending: BatchItemRequestInput[] = [];
      for (const line of input) {
        if (line.kind === 'invalid') {
          const error = { message: line.messages, error: 'Bad Request', statusCode: 400 };
          this.finish({ id: line.id, status: 'invalid', line: line.line, error });
        } else if (await manifest.isDone(line.item.id)) {
          progress.skipped++;
        } else {
          this.lines.set(line.item.id, line.line);
          pending.push(line.item);
        }
      }
      const batches = new TaskPool(BATCHES_IN_FLIGHT);
      for (let start = 0; start < pending.length && !this.stop.signal.aborted; start += this.options.chunkSize) {
        const chunk = pending.slice(start, start + this.options.chunkSize);
        await batches.add(() => this.submitAndFollow(chunk));
      }
      await batches.drain();
      await this.files.drain();
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (this.fatal) throw this.fatal.error;
  }

  private async submitAndFollow(items: BatchItemRequestInput[]): Promise<void> {
    let batches: BatchStatus[];
    try {
      batches = await this.submit(items);
    } catch (error) {
      return this.fail(new Error(`submitting a batch: ${describeFailure(error)}`, { cause: error }));
    }
    for (const { batchId } of batches) {
      try {
        await this.follow(batchId);
      } catch (error) {
        return this.fail(new Error(`following batch ${batchId}: ${describeFailure(error)}`, { cause: error }));
      }
    }
  }

  /** Submits `items`; a chunk the API finds too large (413, "at most N items") goes again in halves. */
  private async submit(items: BatchItemRequestInput[]): Promise<BatchStatus[]> {
    try {
      return [await this.retrying(SUBMIT_ATTEMPTS, () => this.options.client.submitBatch(items, { signal: this.stop.signal }))];
    } catch (error) {
      if (items.length < 2 || !isTooLarge(error)) throw error;
      const half = Math.ceil(items.length / 2);
      return [...(await this.submit(items.slice(0, half))), ...(await this.submit(items.slice(half)))];
    }
  }

  /** Hands each item of a batch to the file pool (or the manifest) as it ends. */
  private async follow(batchId: string): Promise<void> {
    const { client, pollIntervalMs } = this.options;
    for await (const item of client.batchResults(batchId, { pollIntervalMs, signal: this.stop.signal })) {
      // Only items this run submitted: a server naming others gets nothing written for them.
      if (!this.lines.has(item.id)) continue;
      if (item.status === 'completed') await this.files.add(() => this.fetch(batchId, item));
      else {
        const error = item.error ?? { message: [`the item is ${item.status}`], error: 'Unknown', statusCode: 500 };
        this.finish({ id: item.id, status: item.status === 'invalid' ? 'invalid' : 'failed', error });
      }
    }
  }

  /** Downloads a completed item into `<out>/<id>.<ext>`, and records how that went. */
  private async fetch(batchId: string, item: BatchItem): Promise<void> {
    const { client, outDir, pollIntervalMs } = this.options;
    const signal = this.stop.signal;
    for (let attempt = 1; ; attempt++) {
      try {
        const media = await client.batchItemContent(batchId, item.id, { signal, pollIntervalMs });
        // Named after the id we submitted, never the answer's Content-Disposition.
        const { name, file } = outputPath(outDir, item.id, media.mimetype);
        await saveMedia(media, file, signal);
        const { sha256, size, mimetype } = media;
        this.finish({ id: item.id, status: 'completed', sha256, size, mimetype, path: name });
        return;
      } catch (error) {
        // Stopping: the file is dropped (saveMedia left nothing); the next run fetches it.
        if (signal.aborted) return;
        if (isDiskError(error)) return this.fail(new Error(`saving ${item.id}: ${describeFailure(error)}`, { cause: error }));
        if (attempt < FETCH_ATTEMPTS && isRetryable(error)) {
          await pause(RETRY_BACKOFF_MS * attempt, signal);
          continue;
        }
        this.finish({ id: item.id, status: 'failed', error: toManifestError(error) });
        return;
      }
    }
  }

  private finish(entry: ManifestEntry): void {
    const line = this.lines.get(entry.id);
    this.options.manifest.record(line === undefined ? entry : { ...entry, line });
    const { progress } = this.options;
    if (entry.status === 'completed') {
      progress.completed++;
      progress.bytes += entry.size ?? 0;
    } else progress.failed++;
  }

  /** `call`, again after a pause while it fails in a way another try may fix. */
  private async retrying<T>(attempts: number, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (this.stop.signal.aborted || attempt >= attempts || !isRetryable(error)) throw error;
        await pause(RETRY_BACKOFF_MS * attempt, this.stop.signal);
      }
    }
  }

  /** A failure of the whole run: the first one is kept and everything stops. */
  private fail(error: unknown): void {
    // Once stopping, failures are the stop's echoes (aborted requests), not news.
    if (this.stop.signal.aborted) return;
    this.fatal = { error };
    this.stop.abort(error);
  }
}

function isTooLarge(error: unknown): boolean {
  if (!(error instanceof WamediaApiError)) return false;
  return error.statusCode === 413 || (error.statusCode === 400 && error.messages.some((m) => /at most \d+ items/.test(m)));
}

/** Network trouble, 5xx and 429, bytes that did not match: worth another try. */
function isRetryable(error: unknown): boolean {
  if (error instanceof WamediaApiError) return error.retryable;
  if (error instanceof UnsafeOutputPathError) return false;
  return error instanceof MediaMismatchError || !isDiskError(error);
}

/** The output folder can't take the file: every other item would fail the same way. */
function isDiskError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOENT';
}

function toManifestError(error: unknown): ManifestError {
  if (error instanceof WamediaApiError) return error.toJSON();
  return { message: [describeFailure(error)], error: error instanceof MediaMismatchError ? 'Media Mismatch' : 'Download Failed' };
}

/** An error's message with the cause fetch hides behind "fetch failed" (ECONNREFUSED, ...). */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as (Error & { code?: string }) | undefined;
  if (error instanceof WamediaApiError || !(cause instanceof Error)) return error.message;
  return `${error.message} (${cause.message || cause.code || cause.name})`;
}

/** Waits `ms`, or less if `signal` aborts (the caller checks it). */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => undefined);
}
