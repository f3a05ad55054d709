import { QueueUnavailableError, StorageUnavailableError, type WamediaError } from '@wamedia/shared';

/** One dependency a process needs to do its work, and how to ask whether it answers. */
export interface DependencyCheck {
  name: 'redis' | 'storage';
  ping(): Promise<unknown>;
}

/** How long one check may take before it counts as failed, in ms. */
const CHECK_TIMEOUT_MS = 2_000;

/**
 * Runs every check at once, each bounded in time.
 * @throws QueueUnavailableError or StorageUnavailableError (503) naming each failed dependency.
 */
export async function assertReady(checks: readonly DependencyCheck[]): Promise<void> {
  const results = await Promise.allSettled(checks.map((check) => withTimeout(check.ping())));
  const failed = checks.filter((_, i) => results[i]!.status === 'rejected');
  if (failed.length === 0) return;
  const problems = failed.map((check) => `${check.name}: unreachable`);
  const error: WamediaError = failed.some((check) => check.name === 'redis')
    ? new QueueUnavailableError(problems.join('; '))
    : new StorageUnavailableError(problems.join('; '));
  throw error;
}

async function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
