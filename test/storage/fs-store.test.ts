import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../packages/shared/src/errors.js';
import { FsBlobStore } from '@wamedia/server';
import { ageFiles } from '../support/age-files.js';
import { describeBlobStoreContract } from './blob-store-contract.js';

describeBlobStoreContract('FsBlobStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wamedia-fs-store-'));
  const tmp = join(dir, 'tmp');
  return {
    store: new FsBlobStore(dir),
    listTemps: () => filesUnder(tmp),
    ageTemps: async (ms) => ageFiles((await filesUnder(tmp)).map((name) => join(tmp, name)), ms),
    listBlobs: () => filesUnder(join(dir, 'sha256')),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('FsBlobStore on disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wamedia-fs-store-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('files a blob under sha256/<first two hex digits>/<hex>', async () => {
    const store = new FsBlobStore(dir);
    const sha256 = 'f'.repeat(64);
    await store.commit(await store.writeTemp(Readable.from([Buffer.from('x')])), sha256);
    expect((await stat(join(dir, 'sha256', 'ff', sha256))).size).toBe(1);
  });

  it('reports an unusable folder as StorageUnavailableError, without the path in the message', async () => {
    const notADir = join(dir, 'a-file');
    await writeFile(notADir, '');
    const store = new FsBlobStore(notADir);

    const pinged = store.ping();
    await expect(pinged).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(pinged).rejects.toThrow(/failed to write to the storage folder \(ENOTDIR\)/);
    await expect(pinged).rejects.not.toThrow(notADir);
    await expect(store.writeTemp(Readable.from([Buffer.from('x')]))).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(store.putRecord('r.json', '{}')).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it('finds nothing stale in a folder never written to', async () => {
    expect(await new FsBlobStore(join(dir, 'fresh')).removeStaleTemps(0)).toBe(0);
  });
});

async function filesUnder(folder: string): Promise<string[]> {
  try {
    const entries = await readdir(folder, { recursive: true, withFileTypes: true });
    return entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
