import { WamediaError } from '@wamedia/shared';

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

/**
 * Runs `shutdown` on the first SIGTERM or SIGINT and ignores the ones after it. One Ctrl-C under
 * `pnpm start` brings SIGINT twice (from the terminal, to the whole process group, and forwarded
 * by the start script): with `process.once`, the second would find no listener and kill the
 * process mid-shutdown. `shutdown` must end the process itself, within its grace period.
 */
export function onShutdownSignal(shutdown: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stopping ??= shutdown(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
