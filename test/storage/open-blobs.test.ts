import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IDLE_CLOSE_MS, MAX_OPEN_BLOBS, OpenBlobs } from '../../packages/server/src/storage/open-blobs.js';

const READ = { highWaterMark: 4 };

/** How many descriptors this process has open (Linux). */
function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('OpenBlobs', () => {
  let dir: string;
  let blobs: OpenBlobs;
  let baseline: number;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wamedia-open-blobs-'));
    blobs = new OpenBlobs();
    baseline = openDescriptors();
  });
  afterEach(async () => {
    blobs.closeAll();
    await rm(dir, { recursive: true, force: true });
  });

  async function blob(name: string, content: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  it('reads the whole blob or a range, from one descriptor that stays open between uses', async () => {
    const path = await blob('a', 'hello, open blob');

    expect(await blobs.size(path)).toBe(16);
    expect(await text(await blobs.stream(path, READ))).toBe('hello, open blob');
    expect(await text(await blobs.stream(path, { ...READ, start: 7, end: 10 }))).toBe('open');
    expect(openDescriptors()).toBe(baseline + 1);

    blobs.closeAll();
    expect(openDescriptors()).toBe(baseline);
  });

  it('gives interleaved streams of one blob each its own bytes (no shared file offset)', async () => {
    const path = await blob('a', 'abcdefghijklmnopqrstuvwxyz');
    const streams = await Promise.all([blobs.stream(path, READ), blobs.stream(path, READ), blobs.stream(path, { ...READ, start: 20 })]);

    const texts = await Promise.all(streams.map((stream) => text(stream)));

    expect(texts).toEqual(['abcdefghijklmnopqrstuvwxyz', 'abcdefghijklmnopqrstuvwxyz', 'uvwxyz']);
  });

  it('reports a missing blob as ENOENT, and one removed since it was opened as well', async () => {
    await expect(blobs.size(join(dir, 'never'))).rejects.toMatchObject({ code: 'ENOENT' });
    const path = await blob('a', 'short-lived');
    await blobs.size(path);

    await rm(path);

    await expect(blobs.size(path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(openDescriptors()).toBe(baseline);
  });

  it('reads the new file when a removed blob is written again under its name', async () => {
    const path = await blob('a', 'first');
    await blobs.size(path);
    await rm(path);
    await writeFile(path, 'second!');

    expect(await blobs.size(path)).toBe(7);
    expect(await text(await blobs.stream(path, READ))).toBe('second!');
  });

  it(`keeps at most ${MAX_OPEN_BLOBS} open, closing the least recently used`, async () => {
    const paths = await Promise.all(Array.from({ length: MAX_OPEN_BLOBS + 10 }, (_, i) => blob(`b${i}`, `blob ${i}`)));
    for (const path of paths) await blobs.size(path);
    expect(openDescriptors()).toBe(baseline + MAX_OPEN_BLOBS);

    // The first blob was retired: using it opens it again and retires the next oldest.
    expect(await text(await blobs.stream(paths[0]!, READ))).toBe('blob 0');
    expect(openDescriptors()).toBe(baseline + MAX_OPEN_BLOBS);
  });

  it('keeps a retired blob open for the stream still reading it, and closes it when that stream ends', async () => {
    const first = await blob('first', 'still being read');
    const reading = await blobs.stream(first, READ);
    const others = await Promise.all(Array.from({ length: MAX_OPEN_BLOBS }, (_, i) => blob(`b${i}`, `blob ${i}`)));
    for (const path of others) await blobs.size(path);
    expect(openDescriptors()).toBe(baseline + MAX_OPEN_BLOBS + 1);
    const closed = once(reading, 'close');

    expect(await text(reading)).toBe('still being read');

    await closed;
    expect(openDescriptors()).toBe(baseline + MAX_OPEN_BLOBS);
  });

  it('gives the descriptor back when a stream is destroyed before its end', async () => {
    const path = await blob('a', 'x'.repeat(1024));
    const stream = await blobs.stream(path, READ);
    const closed = once(stream, 'close');
    stream.destroy();
    await closed;

    blobs.closeAll();

    expect(openDescriptors()).toBe(baseline);
  });

  it('gives the descriptor back when the stream refuses its range', async () => {
    const path = await blob('a', 'ranged');

    await expect(blobs.stream(path, { ...READ, start: 4, end: 2 })).rejects.toThrow(/end/);
    blobs.closeAll();

    expect(openDescriptors()).toBe(baseline);
  });

  it(`closes the blobs unused for ${IDLE_CLOSE_MS} ms, so that the space of a removed one comes back`, async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'Date'] });
    const sweeping = new OpenBlobs();
    try {
      const [idle, recent] = await Promise.all([blob('idle', 'idle'), blob('recent', 'recent')]);
      await sweeping.size(idle);
      vi.advanceTimersByTime(IDLE_CLOSE_MS - 1_000);
      await sweeping.size(recent);
      expect(openDescriptors()).toBe(baseline + 2);

      vi.advanceTimersByTime(1_000);

      expect(openDescriptors()).toBe(baseline + 1);
      expect(await text(await sweeping.stream(idle, READ))).toBe('idle');
    } finally {
      sweeping.closeAll();
      vi.useRealTimers();
    }
  });
});
