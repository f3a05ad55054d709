import type { BlobStore, Logger } from '@wamedia/server';

export interface StaleTempSweeperOptions {
  /**
   * Temporaries older than this are removed, in ms. Default: one hour. A download in progress
   * keeps its file fresh (fs: each write; S3: the object appears only when its upload completes),
   * so the age only has to exceed the longest stall, or on S3 the longest upload.
   */
  maxAgeMs?: number;
  /** Time between two sweeps after the first one (at start), in ms. Default: ten minutes. */
  intervalMs?: number;
}

const HOUR_MS = 3_600_000;
const DEFAULT_INTERVAL_MS = 10 * 60_000;

/**
 * Removes the temporary objects a killed worker leaves in the store (a SIGKILL or a lost host
 * mid-download: nobody is left to discard them). Never touches published blobs. Every worker
 * sweeps, at start and then periodically; two sweeping at once is harmless.
 */
export class StaleTempSweeper {
  private readonly maxAgeMs: number;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly store: BlobStore,
    private readonly logger: Logger,
    options: StaleTempSweeperOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? HOUR_MS;
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  }

  /** Sweeps now, then every `intervalMs` until stop(). */
  start(): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  private sweep(): Promise<void> {
    // A slow listing (a large bucket) is not started over by the next tick.
    this.sweeping ??= this.removeStale().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async removeStale(): Promise<void> {
    try {
      const removed = await this.store.removeStaleTemps(this.maxAgeMs);
      if (removed > 0) this.logger.info({ removed, olderThanMs: this.maxAgeMs }, 'stale temporaries removed');
    } catch (err) {
      this.logger.warn({ err }, 'could not remove stale temporaries; trying again later');
    }
  }
}
