import { z } from 'zod';
import { InternalError } from '@wamedia/shared';
import type { BlobStore } from './blob-store.js';

/** What the index knows about one media: where its bytes are and how to serve them. */
export interface MediaIndexEntry {
  /** Plaintext SHA-256 (hex): the blob's address. */
  sha256: string;
  /** Plaintext size in bytes. */
  size: number;
  /** Content-Type to serve. */
  mimetype: string;
}

const entrySchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  mimetype: z.string().min(1),
}) satisfies z.ZodType<MediaIndexEntry>;

const LOOKUP_KEY = /^[0-9a-f]{64}$/;

/**
 * The cache index: lookup key (see mediaLookupKey) → stored media. It lives in the blob store's
 * records, beside the blobs, so the cache survives a Redis flush and needs no other database.
 */
export class MediaIndex {
  constructor(private readonly store: BlobStore) {}

  /** The entry for `lookupKey`, or undefined when there is none or its blob is gone. */
  async get(lookupKey: string): Promise<MediaIndexEntry | undefined> {
    const text = await this.store.getRecord(recordName(lookupKey));
    const entry = text === undefined ? undefined : parseEntry(text);
    if (!entry) return undefined;
    // A record can outlive its blob (removed by hand, by a lifecycle rule): that is a miss.
    return (await this.store.stat(entry.sha256)) ? entry : undefined;
  }

  /** Records `entry` under `lookupKey`, replacing any previous one. */
  async put(lookupKey: string, entry: MediaIndexEntry): Promise<void> {
    const parsed = entrySchema.safeParse(entry);
    if (!parsed.success) throw new InternalError(`not a valid media index entry: ${parsed.error.message}`);
    await this.store.putRecord(recordName(lookupKey), JSON.stringify(parsed.data));
  }
}

function recordName(lookupKey: string): string {
  if (!LOOKUP_KEY.test(lookupKey)) throw new InternalError(`not a media lookup key: ${JSON.stringify(lookupKey)}`);
  return `index-${lookupKey}.json`;
}

/** A damaged record counts as a miss: the download runs again and put() replaces it. */
function parseEntry(text: string): MediaIndexEntry | undefined {
  try {
    const parsed = entrySchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
