/**
 * Runs at most `size` tasks at once. `add` waits for a free slot, so a producer that awaits it
 * goes no faster than the tasks (backpressure). Tasks handle their own failures; one that
 * throws anyway is a bug, kept and rethrown by `drain`.
 */
export class TaskPool {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly size: number) {}

  /** Starts `task` once a slot is free; resolves when it has started. */
  async add(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.size) await Promise.race(this.running);
    const run: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /** Resolves once every task added has ended; rejects with the first unexpected error. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running);
    if (this.failure) throw this.failure.error;
  }
}
