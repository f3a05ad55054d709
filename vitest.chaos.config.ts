import { defineConfig } from 'vitest/config';

/** The chaos soak alone (`pnpm test:chaos`): long, and not part of `pnpm test`. */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    reporters: ['default'],
    // The soak's own timeout follows CHAOS_SECONDS; these only bound its hooks.
    testTimeout: 60 * 60_000,
    hookTimeout: 180_000,
  },
});
