import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Manifest, MANIFEST_NAME, type ManifestEntry } from './manifest.js';

describe('Manifest', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wamedia-manifest-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const lines = async () => (await readFile(path.join(dir, MANIFEST_NAME), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as ManifestEntry);
  const completed = (id: string, size: number): ManifestEntry => ({ id, status: 'completed', sha256: 'ab', size, path: `${id}.bin` });

  it('appends entries as they come, readable before close', async () => {
    const manifest = await Manifest.open(dir);
    manifest.record(completed('a', 3));
    manifest.record({ id: 'b', status: 'failed', error: { message: ['expired'], error: 'Not Found', statusCode: 404 } });
    expect(await lines()).toEqual([completed('a', 3), { id: 'b', status: 'failed', error: { message: ['expired'], error: 'Not Found', statusCode: 404 } }]);
    await manifest.close();
    expect(await lines()).toHaveLength(2);
  });

  it('counts an item done only if its file is there with its size', async () => {
    const manifest = await Manifest.open(dir);
    manifest.record(completed('there', 3));
    manifest.record(completed('short', 3));
    manifest.record(completed('gone', 3));
    manifest.record({ id: 'failed', status: 'failed' });
    await writeFile(path.join(dir, 'there.bin'), 'abc');
    await writeFile(path.join(dir, 'short.bin'), 'ab');
    expect(await Promise.all(['there', 'short', 'gone', 'failed', 'unknown'].map((id) => manifest.isDone(id)))).toEqual([true, false, false, false, false]);
    await manifest.close();
  });

  it('reads an earlier run (last entry wins, a torn last line ignored) and rewrites one line per id on close', async () => {
    const earlier = [completed('a', 1), { id: 'b', status: 'failed' }, completed('c', 2)].map((e) => JSON.stringify(e)).join('\n');
    await writeFile(path.join(dir, MANIFEST_NAME), `${earlier}\n${JSON.stringify(completed('b', 5))}\n{"id":"d","sta`);
    const manifest = await Manifest.open(dir);
    expect(manifest.get('b')).toEqual(completed('b', 5));
    manifest.record(completed('c', 9));
    // The torn line is closed before the next entry starts.
    expect((await readFile(path.join(dir, MANIFEST_NAME), 'utf8')).endsWith(`{"id":"d","sta\n${JSON.stringify(completed('c', 9))}\n`)).toBe(true);
    await manifest.close();
    expect(await lines()).toEqual([completed('a', 1), completed('b', 5), completed('c', 9)]);
  });
});
