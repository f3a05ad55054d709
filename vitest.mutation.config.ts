import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The tests `pnpm test:mutation` (stryker.config.mjs) runs against every mutant: only the fast
 * unit tests of the mutated files, no Redis, no services. The full suite would take minutes per
 * mutant; these take about a second.
 */
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Stryker copies the project into a sandbox, but the workspace packages' node_modules links
    // point back at the original sources: resolved here, the mutated copies are the ones tested.
    alias: {
      '@wamedia/shared': here('./packages/shared/src/index.ts'),
      '@wamedia/server': here('./packages/server/src/index.ts'),
    },
  },
  test: {
    include: [
      'packages/shared/src/media/*.test.ts',
      'packages/shared/src/webhook-signature.test.ts',
      'packages/server/src/ssrf/*.test.ts',
      'apps/api/src/services/*.test.ts',
    ],
    testTimeout: 60_000,
  },
});
