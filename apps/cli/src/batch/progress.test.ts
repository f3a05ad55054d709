import { describe, expect, it } from 'vitest';
import { duration, formatBytes, Progress, type ProgressStream } from './progress.js';

function stream(isTTY: boolean): ProgressStream & { text: string } {
  return { isTTY, columns: 200, text: '', write(chunk: string) { this.text += chunk; } };
}

describe('Progress', () => {
  it('tells done, failed, total, bytes, rate and ETA', () => {
    let now = 0;
    const progress = new Progress(stream(false), { total: 10, now: () => now });
    progress.skipped = 2;
    progress.completed = 3;
    progress.failed = 1;
    progress.bytes = 4 * 1024 * 1024;
    now = 2000;
    // 4 finished in 2 s, 4 left: 2 s more.
    expect(progress.line()).toBe('5/10 done (2 skipped), 1 failed, 4.0 MB, 2.0 MB/s, ETA 0:02');
  });

  it('writes plain lines when not on a terminal, only when a count moved, and always at the end', async () => {
    const out = stream(false);
    const progress = new Progress(out, { total: 3, logMs: 5 });
    progress.start();
    progress.completed = 1;
    // Waits for the timer's line (however late a loaded machine fires it), then the end's.
    while (!out.text.includes('1/3 done')) await new Promise((resolve) => setTimeout(resolve, 5));
    progress.stop();
    const lines = out.text.split('\n').filter(Boolean);
    expect(lines.every((line) => line.startsWith('wamedia batch: '))).toBe(true);
    expect(lines.filter((line) => line.includes('1/3 done'))).toHaveLength(2);
    expect(out.text).not.toContain('\r');
  });

  it('redraws one line on a terminal, and keeps notes above it', () => {
    const out = stream(true);
    const progress = new Progress(out, { total: 2, redrawMs: 10_000 });
    progress.start();
    progress.note('interrupted');
    progress.completed = 2;
    progress.stop();
    expect(out.text).toMatch(/^\r\x1b\[K0\/2 done.*\r\x1b\[Kinterrupted\n\r\x1b\[K0\/2 done.*\r\x1b\[K2\/2 done[^\n]*\n$/);
  });
});

describe('formatting', () => {
  it.each([[0, '0 B'], [1023, '1023 B'], [1536, '1.5 KB'], [5 * 1024 ** 3, '5.0 GB']])('formatBytes(%d) = %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
  it.each([[0.2, '0:01'], [61, '1:01'], [3725, '1:02:05']])('duration(%d) = %s', (seconds, text) => {
    expect(duration(seconds)).toBe(text);
  });
});
