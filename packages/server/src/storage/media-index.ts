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

/** How many entries a process keeps in memory: about 200 bytes each. */
const REMEMBERED_ENTRIES = 10_000;

/**
 * The cache index: lookup key (see mediaLookupKey) → stored media. It lives in the blob store's
 * records, beside the blobs, so the cache survives a Redis flush and needs no other database.
 *
 * Entries read or written are also remembered in memory (the most recent REMEMBERED_ENTRIES): a
 * lookup key always names the same media, so a remembered entry is as good as its record, and a
 * cache hit then costs one stat of the blob instead of reading the record too.
 */
export class MediaIndex {
  private readonly remembered = new Map<string, MediaIndexEntry>();

  constructor(private readonly store: BlobStore) {}

  /** The entry for `lookupKey`, or undefined when there is none or its blob is gone. */
  async get(lookupKey: string): Promise<MediaIndexEntry | undefined> {
    const entry = this.remembered.get(lookupKey) ?? (await this.read(lookupKey));
    if (!entry) return undefined;
    // A record can outlive its blob (removed by hand, by a lifecycle rule): that is a miss.
    if (!(await this.store.stat(entry.sha256))) {
      this.remembered.delete(lookupKey);
      return undefined;
    }
    return entry;
  }

  /** Records `entry` under `lookupKey`, replacing any previous one. */
  async put(lookupKey: string, entry: MediaIndexEntry): Promise<void> {
    const parsed = entrySchema.safeParse(entry);
    if (!parsed.success) throw new InternalError(`not a valid media index entry: ${parsed.error.message}`);
    await this.store.putRecord(recordName(lookupKey), JSON.stringify(parsed.data));
    this.remember(lookupKey, parsed.data);
  }

  private async read(lookupKey: string): Promise<MediaIndexEntry | undefined> {
    const text = await this.store.getRecord(recordName(lookupKey));
    const entry = text === undefined ? undefined : parseEntry(text);
    if (entry) this.remember(lookupKey, entry);
    return entry;
  }

  private remember(lookupKey: string, entry: MediaIndexEntry): void {
    this.remembered.delete(lookupKey);
    if (this.remembered.size >= REMEMBERED_ENTRIES) this.remembered.delete(this.remembered.keys().next().value!);
    this.remembered.set(lookupKey, entry);
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
