import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
// The CLI entry is not among the package's exports; it sits beside its package.json.
const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const config = fileURLToPath(new URL('./fixtures/summary/vitest.config.ts', import.meta.url));

it('counts the tests a failed set-up kept from running as failed, and only tests skipped on purpose as skipped', async () => {
  const outcome = await run(process.execPath, [vitest, 'run', '--config', config]).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
  expect(outcome.code).toBe(1);
  expect(outcome.stdout).toContain('Tests: 1 passed, 2 failed, 2 skipped');
});
