/** Where progress goes: process.stderr, or a stand-in in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Items in the whole run, skipped ones included. */
  total: number;
  /** Redraw period on a terminal, in ms. Default 250. */
  redrawMs?: number;
  /** Period of the log lines when not on a terminal, in ms. Default 5000. */
  logMs?: number;
  /** The clock, in ms (tests). Default Date.now. */
  now?: () => number;
}

/**
 * The progress of a batch on stderr: done, failed, total, bytes, rate and ETA. On a terminal one
 * line redrawn in place; otherwise (a pipe, a CI log) a plain line every few seconds when
 * something changed, and one at the end.
 */
export class Progress {
  /** Completed in this run. */
  completed = 0;
  /** Already done by an earlier run. */
  skipped = 0;
  /** Failed or invalid. */
  failed = 0;
  /** Bytes written in this run. */
  bytes = 0;

  private readonly started: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;
  private loggedCounts = '';

  constructor(
    private readonly stream: ProgressStream,
    private readonly options: ProgressOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  private get tty(): boolean {
    return this.stream.isTTY === true;
  }

  /** Starts the periodic redraw (or log line). */
  start(): void {
    const period = this.tty ? (this.options.redrawMs ?? 250) : (this.options.logMs ?? 5000);
    this.timer = setInterval(() => this.show(), period);
    this.timer.unref();
    if (this.tty) this.show();
  }

  /** Stops the redraw and leaves the final line on the screen (or in the log). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.show(true);
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }

  /** Writes a line of its own, above the progress line on a terminal. */
  note(text: string): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[K');
    this.stream.write(`${text}\n`);
    this.drawn = false;
    if (this.tty && this.timer) this.show(true);
  }

  /** The progress line, e.g. "57/202 done (12 skipped), 3 failed, 14.2 MB, 3.1 MB/s, ETA 0:42". */
  line(): string {
    const { total } = this.options;
    const done = this.completed + this.skipped;
    const seconds = Math.max((this.now() - this.started) / 1000, 0.001);
    const finished = this.completed + this.failed;
    const remaining = Math.max(total - done - this.failed, 0);
    const eta = remaining === 0 ? '0:00' : finished === 0 ? '?' : duration((remaining * seconds) / finished);
    const skipped = this.skipped > 0 ? ` (${this.skipped} skipped)` : '';
    return `${done}/${total} done${skipped}, ${this.failed} failed, ${formatBytes(this.bytes)}, ${formatBytes(this.bytes / seconds)}/s, ETA ${eta}`;
  }

  private show(final = false): void {
    const text = this.line();
    if (this.tty) {
      // One column short of the width: a line that fills it would wrap on some terminals.
      const width = (this.stream.columns || 80) - 1;
      this.stream.write(`\r\x1b[K${text.slice(0, width)}`);
      this.drawn = true;
      return;
    }
    // A log line only when a count moved (the rate and ETA alone always do), and at the end.
    const counts = `${this.completed}/${this.skipped}/${this.failed}`;
    if (final || counts !== this.loggedCounts) this.stream.write(`wamedia batch: ${text}\n`);
    this.loggedCounts = counts;
  }
}

/** 1536 → "1.5 KB" (powers of 1024, one decimal). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Seconds → "m:ss", or "h:mm:ss" from an hour on. */
export function duration(seconds: number): string {
  const total = Math.ceil(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
