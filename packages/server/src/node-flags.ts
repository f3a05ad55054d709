/**
 * Flags for node itself, per wamedia process: `pnpm start`, the compose file and the benchmark
 * start the processes with them (test/deploy checks that the compose file agrees).
 *
 * The worker allocates a new buffer for every chunk a download passes through (socket,
 * plaintext); V8 frees them only when it collects its young generation, so with the default
 * 16 MiB semi-space a 1 GiB download kept ~60 MiB of dead buffers resident (169 MiB at its
 * peak, `pnpm bench` P3); a 1 MiB semi-space collects them often enough to keep it near 135 MiB
 * on a quiet machine.
 *
 * The API keeps V8's default young generation: its cache hits allocate many small objects, and a
 * smaller one cost them about 30% of their throughput. Its old generation is what grows: V8 lets
 * the heap reach a multiple of what the last full collection kept, a multiple that grows with the
 * heap's maximum, which on a machine with many GiB is large. With 2,500 requests waiting per
 * process, ~26 MiB stayed live but the heap reached ~120 MiB between collections (P7: each API
 * process at ~160 MiB PSS, the tree at ~500 MiB). A 384 MiB maximum makes V8 grow it by about
 * 1.5x instead (~45 MiB between collections, each API at ~90 MiB, the tree at ~360 MiB) while
 * leaving room for some 60,000 waiting requests (~6 KiB of live heap each) per process.
 */
export const nodeFlags = {
  api: ['--max-old-space-size=384'],
  worker: ['--max-semi-space-size=1'],
} as const satisfies Record<'api' | 'worker', readonly string[]>;

/**
 * `flags` without those NODE_OPTIONS sets itself: node takes its command line over NODE_OPTIONS,
 * so without this an operator could not raise the API's heap maximum, say, without a new image.
 */
export function nodeFlagsUnder(flags: readonly string[], nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const named = new Set(nodeOptions.split(/\s+/).filter(Boolean).map(flagName));
  return flags.filter((flag) => !named.has(flagName(flag)));
}

/** `--max-old-space-size=384` → `--max-old-space-size`; V8 spells its flags with - or _ alike. */
function flagName(flag: string): string {
  return flag.split('=')[0]!.replaceAll('_', '-');
}
