import { setTimeout as delay } from 'node:timers/promises';
import type { BatchItem, BatchStatus } from '@wamedia/shared';
import { WamediaApiError } from './wamedia-api-error.js';

/** How batchResults polls. */
export interface BatchResultsOptions {
  /** Pause between two rounds of polling, in ms. Default 1000. */
  pollIntervalMs?: number;
  /** Items per status page, 1 to 1000. Default 1000 (the fewest requests). */
  pageSize?: number;
  /**
   * Failed polls tolerated in a row (network errors, 5xx, 429), each retried after
   * `pollIntervalMs`; one more ends the generator with that error. Default 5.
   */
  retries?: number;
  /** Ends the polling: the generator throws the signal's reason. */
  signal?: AbortSignal;
  /** Each completed item with its link (`item.link`), made when the item is yielded. */
  links?: boolean;
  /** With `links`: how long the links hold, in seconds; the API's SIGNED_URL_TTL_SECONDS when absent. */
  ttlSeconds?: number;
}

/** Reads one page of a batch's status. */
export type BatchPageReader = (page: { offset: number; limit: number; signal?: AbortSignal }) => Promise<BatchStatus>;

/**
 * Yields every item of a batch once, as soon as it is final (completed, failed or invalid),
 * polling the pages of its status until no item is pending or awaiting a re-upload. Items are
 * told apart by position (an id could repeat); each round starts at the first item still pending
 * in the one before, so a batch that is nearly done costs one small request per round.
 */
export async function* pollBatchResults(
  readPage: BatchPageReader,
  options: BatchResultsOptions = {},
): AsyncGenerator<BatchItem, void, undefined> {
  const { pollIntervalMs = 1000, pageSize = 1000, retries = 5, signal } = options;
  const yielded = new Set<number>();
  let start = 0;
  let failures = 0;
  for (;;) {
    let firstPending: number | undefined;
    let offset: number | undefined = start;
    while (offset !== undefined) {
      let page: BatchStatus;
      try {
        page = await readPage({ offset, limit: pageSize, signal });
        failures = 0;
      } catch (error) {
        if (signal?.aborted || !isTransient(error) || ++failures > retries) throw error;
        await delay(pollIntervalMs, undefined, { signal });
        continue;
      }
      for (const [index, item] of page.items.entries()) {
        const position = offset + index;
        if (item.status === 'pending' || item.status === 'awaiting_reupload') firstPending ??= position;
        else if (!yielded.has(position)) {
          yielded.add(position);
          yield item;
        }
      }
      // Guard against a page that would not move on.
      const next: number | undefined = page.nextOffset;
      offset = next !== undefined && next > offset && page.items.length > 0 ? next : undefined;
    }
    if (firstPending === undefined) return;
    for (const position of yielded) if (position < firstPending) yielded.delete(position);
    start = firstPending;
    await delay(pollIntervalMs, undefined, { signal });
  }
}

/** A network failure, or an answer another try may change. */
function isTransient(error: unknown): boolean {
  return error instanceof WamediaApiError ? error.retryable : true;
}
