/**
 * Fault injection: one job whose worker is SIGKILLed twice. Each time, the job's lock stops being
 * renewed and another worker's stall detection gives the job back; BullMQ's own limit (one stall)
 * would fail it at the second, so a rolling restart or a crashing host could fail media that no
 * CDN fault explains. With JOB_MAX_STALLS (default 5) the third worker completes it, and the
 * client, waiting all along, gets 200 with the right bytes.
 *
 * One fs stack, three workers, JOB_LOCK_MS = 2000; the CDN holds the first two downloads part-way
 * until their worker is dead, and serves the third whole.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadBody, eventually } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes } from '../support/expectations.js';
import { gate } from '../support/gate.js';
import { jobIdOf, jobPath } from '../support/jobs.js';
import type { ServiceProcess } from '../support/service-process.js';
import { expectSoundStore, runStaleTempSweep } from '../support/store-audit.js';

const INSTANCE = 'instance-faults-kill-twice';
const MiB = 1024 * 1024;

// Four processes starting at once on a busy machine: a generous readiness deadline.
const suite = useCdnStack({ workers: 3, readyTimeoutMs: 120_000, env: { JOB_LOCK_MS: '2000' } });

/** Whether `worker` holds a temporary file of the store open: it is the one downloading. */
async function writesTemp(worker: ServiceProcess): Promise<boolean> {
  const tmpDir = path.join(suite.stack.storeDir, 'tmp') + path.sep;
  const fdDir = `/proc/${worker.pid}/fd`;
  for (const fd of await readdir(fdDir).catch(() => [] as string[])) {
    const target = await readlink(path.join(fdDir, fd)).catch(() => undefined);
    if (target?.startsWith(tmpDir)) return true;
  }
  return false;
}

/** SIGKILLs the running worker that is writing the media, once one is; resolves with it. */
async function killTheDownloader(): Promise<ServiceProcess> {
  const victim = await eventually(
    async () => {
      for (const worker of suite.stack.workers.filter((w) => w.running)) if (await writesTemp(worker)) return worker;
      return undefined;
    },
    { timeoutMs: 60_000, intervalMs: 20, what: 'a worker writing the media' },
  );
  victim.child.kill('SIGKILL');
  expect((await victim.exited).signal).toBe('SIGKILL');
  return victim;
}

describe('a job whose worker is SIGKILLed twice', () => {
  it('is completed by the third worker; the waiting client gets 200 with the right bytes', async () => {
    const media = suite.cdn.publish(randomBytes(4 * MiB), 'video');
    const kills = [gate(), gate()];
    for (const killed of kills) {
      suite.cdn.enqueue(media.directPathname, { kind: 'serve', chunkSize: 256 * 1024, holdAt: { bytes: MiB, until: killed.opened } });
    }
    const answer = suite.api.download(INSTANCE, downloadBody(media, { omit: ['url'] }), { timeout: 120_000 });

    const victims: ServiceProcess[] = [];
    for (const killed of kills) {
      victims.push(await killTheDownloader());
      killed.open();
    }
    expectBytes(await answer, media.sha256, media.fileLength);

    const survivor = suite.stack.workers.find((worker) => !victims.includes(worker))!;
    expect(survivor.logsWithMsg('media stored').map((line) => line.jobId)).toEqual([jobIdOf(media)]);
    expect(suite.cdn.count(media.directPathname)).toBe(3);
    const status = (await suite.api.get(jobPath(INSTANCE, jobIdOf(media)), INSTANCE)).json();
    expect(status).toMatchObject({ status: 'completed', result: { sha256: media.sha256, size: media.fileLength } });

    // The two partial files stay temporaries until the sweep removes them.
    expect(await runStaleTempSweep(suite.stack)).toBe(2);
    expect((await expectSoundStore(suite.stack)).blobs).toEqual([media.sha256]);
  });
});
