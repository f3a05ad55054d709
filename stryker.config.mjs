// @ts-check
/**
 * `pnpm test:mutation`: StrykerJS mutates the code whose mistakes would be silent — the media
 * crypto, the checks of a request's hints against a verified result, webhook signing and the SSRF
 * guard — and runs the fast unit tests of vitest.mutation.config.ts against every mutant. Not in
 * CI: a full run takes about 10 minutes on 2 cores. The README's Quick start gives the score.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  // related: false: a static mutant (in code run as a module loads, such as the SSRF guard's
  // address ranges) is tested by every test file, not only by those vitest finds importing its
  // file statically; private-addresses.test.ts imports its module inside each test, because a
  // mutant that makes the import throw fails a top-level import with no test failed (survived).
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  coverageAnalysis: 'perTest',
  mutate: [
    'packages/shared/src/media/decrypt-stream.ts',
    'packages/shared/src/media/encrypt-stream.ts',
    'packages/shared/src/media/plain-verify-stream.ts',
    'packages/shared/src/media/media-keys.ts',
    'packages/shared/src/media/hints.ts',
    'apps/api/src/services/request-hints.ts',
    'packages/shared/src/webhook-signature.ts',
    'packages/server/src/ssrf/*.ts',
    '!**/*.test.ts',
  ],
  // Only what the tests and the mutated files need; the rest of the repository stays out of the sandbox.
  ignorePatterns: ['data', 'dist', 'bench/results', '.tmp', 'reports', 'deploy', 'docs'],
  // The machine is shared: one or two test processes, never one per core.
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 1),
  timeoutMS: 30_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 95, low: 90, break: 90 },
  cleanTempDir: 'always',
};
