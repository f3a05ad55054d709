import type { Reporter, TestCase, TestModule } from 'vitest/node';

/**
 * Ends the run with one plain line, "Tests: N passed, N failed, N skipped", that CI systems
 * read without knowing vitest's own summary format. A test that never ran because the set-up
 * around it failed (a beforeAll throwing) counts as failed: vitest itself reports it as skipped.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed' || setUpFailed(test)) counts.failed++;
        else counts.skipped++;
      }
      if (module.state() === 'failed' && !module.children.size) counts.failed++;
    }
    process.stdout.write(`\nTests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}

/**
 * Whether `test` was meant to run (not skipped on purpose) but did not, because a hook of a suite
 * around it, or of its file, failed. A test that skipped itself at run time has no such error above it.
 */
function setUpFailed(test: TestCase): boolean {
  if (test.options.mode !== 'run' || test.result().state !== 'skipped') return false;
  for (let parent = test.parent; ; parent = parent.parent) {
    if (parent.errors().length > 0) return true;
    if (parent.type === 'module') return false;
  }
}
