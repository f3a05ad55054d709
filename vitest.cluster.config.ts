import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * `pnpm test:cluster`: the end-to-end suites that touch every kind of key wamedia and BullMQ write
 * (downloads, dedupe and the 202 flow, batches, webhooks, limits, revocation), and test/cluster,
 * run on a real three-master Redis Cluster started for the run (test/support/cluster-global-setup.ts).
 */
export default defineConfig({
  test: {
    ...base.test,
    include: [
      'test/e2e/download.test.ts',
      'test/e2e/batch.test.ts',
      'test/e2e/webhooks.test.ts',
      'test/e2e/limits.test.ts',
      'test/e2e/revocation-across-apis.test.ts',
      'test/cluster/**/*.test.ts',
    ],
    exclude: [],
    // One file at a time: every file's stack shares the one cluster and the machine's cores, and
    // stacks started side by side on a busy machine outrun their 30 s start-up deadline.
    fileParallelism: false,
    globalSetup: ['test/support/cluster-global-setup.ts'],
  },
});
