import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The file, in the output folder, where `wamedia batch` records every item it finished. */
export const MANIFEST_NAME = 'manifest.jsonl';

/** One line of the manifest: how an item ended. */
export interface ManifestEntry {
  id: string;
  status: 'completed' | 'failed' | 'invalid';
  /** The input line the item came from. */
  line?: number;
  /** SHA-256 of the file, hex (completed). */
  sha256?: string;
  /** Bytes of the file (completed). */
  size?: number;
  mimetype?: string;
  /** The file, relative to the output folder (completed). */
  path?: string;
  /** Why the item failed or is invalid. */
  error?: ManifestError;
}

/**
 * The API's error body when the API gave the reason; without `statusCode` when the failure
 * happened on this side (the connection dropped, the bytes did not match the ETag, ...).
 */
export interface ManifestError {
  message: string[];
  error: string;
  statusCode?: number;
}

/**
 * The manifest of an output folder: read at start (the last entry of an id wins), appended to
 * as items finish, rewritten with one line per id on close. Appends are synchronous writes to
 * an O_APPEND descriptor: an entry is in the file before the next statement runs, so an
 * interrupt loses none, and entries never interleave.
 */
export class Manifest {
  private fd: number | undefined;

  private constructor(
    /** The manifest's path. */
    readonly file: string,
    private readonly entries: Map<string, ManifestEntry>,
    /** Lines in the file that a rewrite would drop (superseded or unreadable). */
    private stale: number,
    /** The file ends in the middle of a line. */
    private needsNewline: boolean,
  ) {}

  /** Opens `<dir>/manifest.jsonl` for appending, reading what an earlier run recorded. */
  static async open(dir: string): Promise<Manifest> {
    const file = path.join(dir, MANIFEST_NAME);
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const entries = new Map<string, ManifestEntry>();
    let stale = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const entry = parseEntry(line);
      if (!entry) stale++;
      else {
        if (entries.delete(entry.id)) stale++;
        entries.set(entry.id, entry);
      }
    }
    // A run killed mid-write can leave half a line: start ours on a line of its own.
    const manifest = new Manifest(file, entries, stale, text.length > 0 && !text.endsWith('\n'));
    manifest.fd = openSync(file, 'a');
    return manifest;
  }

  /** The entry recorded last for `id`. */
  get(id: string): ManifestEntry | undefined {
    return this.entries.get(id);
  }

  /** Whether `id` completed earlier and its file is still there with its size. */
  async isDone(id: string): Promise<boolean> {
    const entry = this.entries.get(id);
    if (entry?.status !== 'completed' || entry.path === undefined || entry.size === undefined) return false;
    try {
      const info = await stat(path.join(path.dirname(this.file), entry.path));
      return info.isFile() && info.size === entry.size;
    } catch {
      return false;
    }
  }

  /** Appends an entry (it supersedes any earlier one of its id). */
  record(entry: ManifestEntry): void {
    if (this.fd === undefined) throw new Error('the manifest is closed');
    const text = `${this.needsNewline ? '\n' : ''}${JSON.stringify(entry)}\n`;
    this.needsNewline = false;
    writeSync(this.fd, text);
    if (this.entries.delete(entry.id)) this.stale++;
    this.entries.set(entry.id, entry);
  }

  /**
   * Closes the file; when it holds superseded or unreadable lines, rewrites it with one line
   * per id (a temporary file renamed over it, so a crash leaves the old or the new one).
   */
  async close(): Promise<void> {
    this.closeSync();
    if (this.stale === 0) return;
    const temporary = `${this.file}.${process.pid}.tmp`;
    const text = [...this.entries.values()].map((entry) => `${JSON.stringify(entry)}\n`).join('');
    try {
      await writeFile(temporary, text, { flag: 'wx' });
      await rename(temporary, this.file);
      this.stale = 0;
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  /** Closes the file as it is: for a process about to exit. */
  closeSync(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

function parseEntry(line: string): ManifestEntry | undefined {
  try {
    const entry = JSON.parse(line) as Partial<ManifestEntry> | null;
    return typeof entry?.id === 'string' && typeof entry.status === 'string' ? (entry as ManifestEntry) : undefined;
  } catch {
    return undefined;
  }
}
