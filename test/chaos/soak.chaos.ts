/**
 * The chaos soak (issue 12): the whole service (two APIs, three workers, its own Redis with AOF,
 * its own S3 server, a fake CDN that is sometimes slow, failing or expired) under steady
 * synchronous and batch load for CHAOS_SECONDS (default 600), while faults drawn from the seed
 * strike one after another. Then the load and the faults stop, the service is made whole, and
 * the six end checks run. It prints the seed (CHAOS_SEED=<seed> replays the same choices), the
 * figures and every check, and fails when any check found a problem.
 *
 * Run it with `pnpm test:chaos` (vitest.chaos.config.ts); not part of `pnpm test`.
 */
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../support/api-client.js';
import { FakeCdn } from '../support/fake-cdn.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { Catalogue } from './catalogue.js';
import { runChecks, type Check } from './checks.js';
import { FaultInjector, type FaultKind } from './faults.js';
import { BATCH_INSTANCE, Load } from './load.js';
import { chaosSeed, Prng } from './prng.js';
import { ChaosStack } from './stack.js';

const seed = chaosSeed();
const seconds = Number(process.env.CHAOS_SECONDS ?? 600);
if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`CHAOS_SECONDS must be a positive number, got ${process.env.CHAOS_SECONDS}`);

/** A stream of its own for each concern, so one's draws do not shift another's. */
const stream = (n: number) => new Prng((seed ^ Math.imul(n + 1, 0x9e3779b9)) >>> 0);

function print(lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

describe(`chaos soak (seed ${seed}, ${seconds} s)`, () => {
  // Start-up, the load, and a drain of what the faults left queued, on a busy machine.
  it('answers every request, ends every accepted job, keeps the store sound and tells every batch item', { timeout: (seconds + 40 * 60) * 1000 }, async () => {
    print([`chaos soak: seed ${seed} (CHAOS_SEED=${seed} replays it), ${seconds} s of load`]);
    const started = Date.now();
    const cdn = await FakeCdn.start();
    const receiver = await WebhookReceiver.start();
    let chaos: ChaosStack | undefined;
    try {
      chaos = await ChaosStack.start(cdn, receiver.origin);
      await receiver.useSecretOf(new ApiClient(chaos.stack), BATCH_INSTANCE);
      const catalogue = new Catalogue(cdn, stream(0));
      const load = new Load(chaos, catalogue, { sync: [1, 2, 3, 4].map(stream), batch: stream(5) }, `${receiver.origin}`);
      const faults = new FaultInjector(chaos, cdn, stream(6));
      load.start();
      faults.start();
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      await faults.stop();
      await load.stop();
      await chaos.heal();
      const loadEnded = Date.now();

      const checks = await runChecks({ chaos, cdn, catalogue, receiver, sent: load.sent, faults: faults.faults });
      const figures = summarize(load, faults, catalogue);
      print([
        `chaos soak: seed ${seed}, ${Math.round((Date.now() - started) / 1000)} s in all (${Math.round((loadEnded - started) / 1000)} s to the end of the load)`,
        ...figures,
        ...checks.map(describeCheck),
      ]);
      expect(checks.flatMap((check) => check.problems.map((problem) => `${check.name}: ${problem}`))).toEqual([]);
    } finally {
      await chaos?.stop();
      await Promise.all([cdn.close(), receiver.close()]);
    }
  });
});

function summarize(load: Load, faults: FaultInjector, catalogue: Catalogue): string[] {
  const byStatus = new Map<string, number>();
  for (const sent of load.sent) {
    const key = sent.error === undefined ? String(sent.status) : sent.error === 'hung' ? 'hung' : 'cut';
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
  }
  const accepted = load.sent.filter((sent) => sent.status === 202);
  const jobs = new Set(accepted.flatMap((sent) => (sent.jobs ?? []).map((job) => `${sent.instance} ${job.jobId}`)));
  const batches = accepted.filter((sent) => sent.kind === 'batch');
  const items = batches.reduce((sum, batch) => sum + batch.items!.size, 0);
  const kinds: FaultKind[] = ['worker-kill', 'api-kill', 'redis-restart', 's3-restart', 'cdn-reset'];
  const largest = Math.max(...catalogue.media.map((m) => m.size));
  return [
    `  requests: ${load.sent.length} (${[...byStatus].sort().map(([status, n]) => `${status}: ${n}`).join(', ')})`,
    `  jobs accepted with 202: ${jobs.size}; batches accepted: ${batches.length} (${items} items)`,
    `  media: ${catalogue.media.length} published, the largest ${(largest / 1024 / 1024).toFixed(1)} MiB`,
    `  faults: ${faults.faults.length} (${kinds.map((kind) => `${kind} ${faults.count(kind)}`).join(', ')})`,
  ];
}

function describeCheck(check: Check): string {
  const head = `  ${check.problems.length === 0 ? 'ok  ' : 'FAIL'} ${check.name}: ${check.checked}`;
  return [head, ...check.problems.slice(0, 20).map((problem) => `         ${problem}`)].join('\n');
}
