/**
 * Flags for node itself, per wamedia process: `pnpm start`, the compose file and the benchmark
 * start the processes with them (test/deploy checks that the compose file agrees).
 *
 * The worker allocates a new buffer for every chunk a download passes through (socket,
 * plaintext); V8 frees them only when it collects its young generation, so with the default
 * 16 MiB semi-space a 1 GiB download kept ~60 MiB of dead buffers resident (169 MiB at its
 * peak, `pnpm bench` P3); a 1 MiB semi-space collects them often enough to keep it near 135 MiB
 * on a quiet machine. The API keeps V8's default: its cache hits allocate many small objects,
 * and a smaller young generation cost them about 30% of their throughput.
 */
export const nodeFlags = {
  api: [],
  worker: ['--max-semi-space-size=1'],
} as const satisfies Record<'api' | 'worker', readonly string[]>;
