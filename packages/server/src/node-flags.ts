/**
 * Flags for node itself, per wamedia process: `pnpm start`, the image, the compose file, the
 * Kubernetes manifests and the benchmark start the processes with them (test/deploy and
 * start-script.test check that they agree). The supervisor cannot give itself flags: the `start`
 * script of package.json and the Dockerfile's CMD spell them out.
 *
 * The worker allocates a new buffer for every chunk a download passes through (socket,
 * plaintext); V8 frees them only when it collects its young generation, so with the default
 * 16 MiB semi-space a 1 GiB download kept ~60 MiB of dead buffers resident (169 MiB at its
 * peak, `pnpm bench` P3); a 1 MiB semi-space collects them often enough to keep it near 135 MiB
 * on a quiet machine. The API's cache hits allocate many small objects: a 1 MiB young
 * generation cost them about 30% of their throughput, 8 MiB nothing measurable.
 *
 * The requests an API keeps waiting, and the jobs a worker runs, outlive a few young-generation
 * collections and die in the old generation, which V8 by default lets grow to about four times
 * what is live before collecting it: 5,000 waiting requests took each of two APIs to ~170 MiB
 * PSS for ~25 MiB live (`pnpm bench` P7). `--heap-growing-percent` caps that growth (100: twice
 * what is live; the APIs then peaked at ~90-110 MiB). 50 cost cache hits (P4) about 20% of their
 * throughput in the API, where 100 cost nothing measurable; the worker takes 50.
 * The supervisor only forks and watches, so its young generation need not outgrow 1 MiB, and it
 * has no hot code for V8's optimizing compiler to earn its keep on: without it, the process that
 * loaded zod, ioredis and prom-client for its start-up checks holds ~9 MiB less (35 → 26 MiB PSS
 * in P7). (`--lite-mode` saves as much but switches WebAssembly off with a warning on stderr.)
 */
export const nodeFlags = {
  supervisor: ['--max-semi-space-size=1', '--no-opt'],
  api: ['--max-semi-space-size=8', '--heap-growing-percent=100'],
  worker: ['--max-semi-space-size=1', '--heap-growing-percent=50'],
} as const satisfies Record<'supervisor' | 'api' | 'worker', readonly string[]>;

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
