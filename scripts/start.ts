import { spawn, type ChildProcess } from 'node:child_process';
import { assertRedisReachable, loadConfig, runMain } from '@wamedia/shared';

/**
 * `pnpm start`: the API and one worker, each its own process as in production, sharing this
 * terminal. Settings and Redis are checked once here, so a problem is reported in one line
 * rather than once per process.
 */
runMain('wamedia', async () => {
  const config = loadConfig();
  await assertRedisReachable(config.redisUrl);
  const children = [start('apps/api/src/main.ts'), start('apps/worker/src/main.ts')];

  let exiting = false;
  const stopAll = (signal: NodeJS.Signals) => {
    exiting = true;
    for (const child of children) child.kill(signal);
  };
  process.on('SIGINT', () => stopAll('SIGINT'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));

  const codes = await Promise.all(
    children.map(
      (child) =>
        new Promise<number>((resolve) =>
          child.once('exit', (code) => {
            // One process dying takes the other down: half a service is worse than none.
            if (!exiting) stopAll('SIGTERM');
            resolve(code ?? 1);
          }),
        ),
    ),
  );
  process.exit(Math.max(...codes));
});

function start(entry: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', entry], { stdio: 'inherit' });
}
