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

/**
 * `flags` without those NODE_OPTIONS sets itself: node takes its command line over NODE_OPTIONS,
 * so without this an operator could not change a process's heap sizes without a new image
 * (docs/operations.md, "Sizing per core", measures one such trade).
 */
export function nodeFlagsUnder(flags: readonly string[], nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const named = new Set(nodeOptions.split(/\s+/).filter(Boolean).map(flagName));
  return flags.filter((flag) => !named.has(flagName(flag)));
}

/** `--max-old-space-size=384` → `--max-old-space-size`; V8 spells its flags with - or _ alike. */
function flagName(flag: string): string {
  return flag.split('=')[0]!.replaceAll('_', '-');
}

/**
 * Environment glibc's allocator reads when a wamedia process starts: `pnpm start` hands it to
 * its children, the Docker image sets it, and a value the operator sets wins.
 *
 * Node's threads (libuv's pool reading and writing files, V8's helpers) each get a malloc arena
 * of their own by default, up to eight per core, and glibc gives an arena's freed memory back to
 * the system only from its top. A 1 GiB media passes through these threads in chunks, and the
 * pages they freed stayed resident: with two arenas the API and the worker peaked at 139-143 MiB
 * where the default let them reach 144-153 MiB (`pnpm bench` P3), at no cost to cache hits (P4).
 */
export const allocatorEnv = { MALLOC_ARENA_MAX: '2' } as const;

/** `env` with {@link allocatorEnv}'s values where it sets none of its own. */
export function withAllocatorDefaults(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...allocatorEnv, ...env };
}
