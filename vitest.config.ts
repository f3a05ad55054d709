import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    // Run on a Redis Cluster by `pnpm test:cluster` (vitest.cluster.config.ts), which starts one.
    exclude: [...configDefaults.exclude, 'test/cluster/**'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Redis and S3 in containers when a Docker engine answers (WAMEDIA_TEST_CONTAINERS).
    globalSetup: ['./test/support/global-containers.ts'],
    // Generous: a test waits on events, so these only end one that hangs. A machine whose cores
    // other work keeps busy (scripts/cpu-hog.sh) stretches a normal test several times over.
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
