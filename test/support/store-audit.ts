/**
 * What the fault-injection suite checks at the end of every case, read from the store's own
 * folder (the fs store's, or the s3rver's) rather than through the service: every blob under
 * `sha256/` holds bytes whose SHA-256 is its name (nothing partial or unverified is visible),
 * every index record names a blob of its size, and the temporary objects are listed so a test
 * can require them gone once the cleanup (the workers' stale-temp sweep) has run.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { Stack } from './stack.js';

export interface StoreAudit {
  /** SHA-256 (hex) of every published blob; each was read back whole and hashes to its name. */
  blobs: string[];
  /** Keys of the temporary objects (`tmp/<uuid>`) still there. */
  temps: string[];
  /**
   * s3 only: multipart uploads that never completed. They are not objects (nobody can read them);
   * a bucket lifecycle rule removes them in production (see s3-store.ts).
   */
  unfinishedUploads: string[];
  /** How many index records there are; each names a published blob of the recorded size. */
  records: number;
  /** Everything wrong: a blob whose bytes hash otherwise, a record naming no blob, an unknown file. */
  problems: string[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Reads the whole store of `stack` and checks it (see {@link StoreAudit}). Hashes every blob, streaming. */
export async function auditStore(stack: Stack): Promise<StoreAudit> {
  const audit: StoreAudit = { blobs: [], temps: [], unfinishedUploads: [], records: 0, problems: [] };
  const sizes = new Map<string, number>();
  const records: { file: string; text: string }[] = [];
  for (const file of await stack.storedFiles()) {
    if (file.includes('._S3rver_uploads')) {
      audit.unfinishedUploads.push(file);
      continue;
    }
    const [folder, ...rest] = file.split('/');
    const name = rest.at(-1) ?? '';
    if (folder === 'sha256') {
      const sha256 = name;
      const shardOk = stack.storage.kind === 's3' ? rest.length === 1 : rest.length === 2 && rest[0] === sha256.slice(0, 2);
      if (!HEX64.test(sha256) || !shardOk) {
        audit.problems.push(`${file}: not a content address`);
        continue;
      }
      const { digest, size } = await hashFile(contentPath(stack, file));
      if (digest !== sha256) audit.problems.push(`${file}: its bytes hash to ${digest}`);
      audit.blobs.push(sha256);
      sizes.set(sha256, size);
    } else if (folder === 'tmp' && rest.length === 1) {
      // The fs store's readiness probe writes and removes `<uuid>.ping` files.
      if (stack.storage.kind === 'fs' && name.endsWith('.ping')) continue;
      if (!UUID.test(name)) audit.problems.push(`${file}: not a temporary object's name`);
      audit.temps.push(name);
    } else if (folder === 'records' && rest.length === 1) {
      records.push({ file, text: await readFile(contentPath(stack, file), 'utf8') });
    } else {
      audit.problems.push(`${file}: outside the store's layout`);
    }
  }
  for (const { file, text } of records) {
    audit.records++;
    if (!/^index-[0-9a-f]{64}\.json$/.test(path.basename(file))) continue;
    let entry: { sha256?: unknown; size?: unknown };
    try {
      entry = JSON.parse(text) as typeof entry;
    } catch {
      audit.problems.push(`${file}: not JSON`);
      continue;
    }
    const size = sizes.get(String(entry.sha256));
    if (size === undefined) audit.problems.push(`${file}: names ${String(entry.sha256)}, which is not stored`);
    else if (size !== entry.size) audit.problems.push(`${file}: says ${String(entry.size)} bytes, the blob has ${size}`);
  }
  audit.blobs.sort();
  audit.temps.sort();
  return audit;
}

/**
 * Asserts the store is sound: no problem at all and, unless `temps` allows some, no temporary
 * object left. Returns the audit.
 */
export async function expectSoundStore(stack: Stack, { allowTemps = false } = {}): Promise<StoreAudit> {
  const audit = await auditStore(stack);
  expect(audit.problems, JSON.stringify(audit)).toEqual([]);
  if (!allowTemps) expect(audit.temps, 'temporary objects left').toEqual([]);
  return audit;
}

/**
 * Runs the cleanup the way production does, only sooner: every temporary object is made two
 * hours old (older than the sweep's one-hour age), and a new worker is started, whose start-up
 * sweep removes them; that worker is stopped again. Call it only while no job is running (a
 * download in progress writes its temporary object). Resolves with how many were removed.
 */
export async function runStaleTempSweep(stack: Stack): Promise<number> {
  const { temps } = await auditStore(stack);
  if (temps.length === 0) return 0;
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
  for (const key of temps) await utimes(contentPath(stack, `tmp/${key}`), twoHoursAgo, twoHoursAgo);
  const sweeper = await stack.startWorker();
  try {
    const swept = await sweeper.waitForLog((line) => line.msg === 'stale temporaries removed', 15_000, '"stale temporaries removed"');
    return Number(swept.removed);
  } finally {
    await sweeper.stop('SIGTERM');
  }
}

/** Where the bytes of store file `file` (as storedFiles names it) are on disk. */
function contentPath(stack: Stack, file: string): string {
  const { storage } = stack;
  if (storage.kind === 'fs') return path.join(storage.dir, file);
  // Read from s3rver's folder: the audit also runs while the server is stopped.
  return stack.s3rver().objectFile(storage.bucket, file);
}

async function hashFile(file: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: hash.digest('hex'), size };
}
