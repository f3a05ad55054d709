import type { BatchItem, BatchStatus } from '@wamedia/shared';

/**
 * The status page a batch route answers for `items` (all of them, however many are on the
 * page), as stand-ins of the API serve it: counts per status, done once none is pending, and
 * `nextOffset` while items remain after the page.
 */
export function batchStatus(batchId: string, statusUrl: string, items: BatchItem[], offset = 0, limit = items.length): BatchStatus {
  const count = (status: BatchItem['status']) => items.filter((item) => item.status === status).length;
  return {
    batchId,
    total: items.length,
    counts: { pending: count('pending'), completed: count('completed'), failed: count('failed'), invalid: count('invalid') },
    done: count('pending') === 0,
    createdAt: new Date().toISOString(),
    statusUrl,
    items: items.slice(offset, offset + limit),
    ...(offset + limit < items.length ? { nextOffset: offset + limit } : {}),
  };
}
