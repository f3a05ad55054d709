import { WamediaError } from './errors.js';

/**
 * Runs a process's main function. A failure to start ends the process with exit code 1 and
 * ONE line on stderr naming what is wrong (a bad setting, an unreachable Redis), no stack
 * trace; an unexpected error keeps its stack, since then the stack is what helps.
 */
export function runMain(name: string, main: () => Promise<unknown>): void {
  main().catch((error: unknown) => {
    if (error instanceof WamediaError) process.stderr.write(`${name}: ${error.message}\n`);
    else process.stderr.write(`${name}: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
