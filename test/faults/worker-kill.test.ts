/**
 * Fault injection: a worker SIGKILLed in the middle of a 100 MiB download. Nobody tells the
 * queue: the job's lock simply stops being renewed, the other worker's stall detection gives
 * the job back after about JOB_LOCK_MS, that worker downloads it anew, and the client, waiting
 * all along, gets 200 with the right bytes (hashed as they stream in, never buffered). The dead
 * worker's half-written temporary file is never published, and the stale-temp sweep removes it.
 *
 * One fs stack, two workers, MAX_MEDIA_BYTES raised to 256 MiB, JOB_LOCK_MS = 2000.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadBody, eventually } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { gate } from '../support/gate.js';
import { jobIdOf } from '../support/jobs.js';
import { BodyReader, rawRequest } from '../support/raw-http.js';
import type { ServiceProcess } from '../support/service-process.js';
import { expectSoundStore, runStaleTempSweep } from '../support/store-audit.js';

const INSTANCE = 'instance-faults-kill';
const MiB = 1024 * 1024;
const MEDIA_BYTES = 100 * MiB;
const JOB_LOCK_MS = 2_000;

const suite = useCdnStack({ workers: 2, env: { MAX_MEDIA_BYTES: String(256 * MiB), JOB_LOCK_MS: String(JOB_LOCK_MS) } });

/** The first temporary file of the store that `worker` holds open, with its size. */
async function tempFileOpenedBy(worker: ServiceProcess): Promise<{ file: string; size: number } | undefined> {
  const tmpDir = path.join(suite.stack.storeDir, 'tmp') + path.sep;
  const fdDir = `/proc/${worker.pid}/fd`;
  const fds = await readdir(fdDir).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(path.join(fdDir, fd)).catch(() => undefined);
    if (!target?.startsWith(tmpDir)) continue;
    const info = await stat(target).catch(() => undefined);
    if (info) return { file: target, size: info.size };
  }
  return undefined;
}

describe('a worker SIGKILLed mid-download of a 100 MiB media', () => {
  it('another worker completes the job; the waiting client gets 200 with the right bytes; the partial temporary file is never published and is swept', async () => {
    const media = suite.cdn.publish(randomBytes(MEDIA_BYTES), 'video');
    const jobId = jobIdOf(media);
    // The first request gets 24 MiB, then nothing until its worker is killed; the rescuer's is served at full speed.
    const killed = gate();
    suite.cdn.enqueue(media.directPathname, { kind: 'serve', chunkSize: MiB, holdAt: { bytes: 24 * MiB, until: killed.opened } });
    const exchange = rawRequest(`${suite.stack.baseUrl}/api/v2/instance/${INSTANCE}/media/directly-download?timeout=120000`, {
      method: 'POST',
      headers: { authorization: `Bearer ${suite.stack.token(INSTANCE)}`, 'content-type': 'application/json' },
      body: JSON.stringify(downloadBody(media, { omit: ['url'] })),
    });

    // The downloading worker is the one holding a temporary file open; killed once 16 MiB are in it.
    const { victim, partial } = await eventually(
      async () => {
        for (const worker of suite.stack.workers) {
          const open = await tempFileOpenedBy(worker);
          if (open && open.size >= 16 * MiB) return { victim: worker, partial: open.file };
        }
        return undefined;
      },
      { intervalMs: 20, what: 'a worker writing 16 MiB of the media' },
    );
    const rescuer = suite.stack.workers.find((worker) => worker !== victim)!;
    const killedAt = performance.now();
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    killed.open();

    const response = await exchange.response;
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-length']).toBe(String(MEDIA_BYTES));
    const body = await new BodyReader(response).done;
    expect(body).toMatchObject({ complete: true, received: MEDIA_BYTES, sha256: media.sha256 });
    // Stall detection (up to 2 × JOB_LOCK_MS), one fast 100 MiB download, 100 MiB sent: a few
    // seconds on a quiet machine; the bound only tells a recovery from none.
    expect(performance.now() - killedAt).toBeLessThan(90_000);

    expect(rescuer.running).toBe(true);
    expect(rescuer.logsWithMsg('media stored').map((line) => line.jobId)).toEqual([jobId]);
    expect(victim.logsWithMsg('media stored')).toEqual([]);
    expect(suite.cdn.count(media.directPathname)).toBe(2);
    const status = (await suite.api.get(`/api/v2/instance/${INSTANCE}/media/jobs/${jobId}`, INSTANCE)).json();
    expect(status).toMatchObject({ status: 'completed', result: { sha256: media.sha256, size: MEDIA_BYTES } });

    // Published: exactly the verified blob. The dead worker's partial file is still a temporary:
    // nobody can yet tell a dead writer from a slow one.
    const before = await expectSoundStore(suite.stack, { allowTemps: true });
    expect(before.blobs).toEqual([media.sha256]);
    expect(before.temps).toEqual([path.basename(partial)]);
    expect((await stat(partial)).size).toBeLessThan(MEDIA_BYTES);

    // The sweep (at a worker's start, then every 10 minutes) removes it once it is an hour old.
    expect(await runStaleTempSweep(suite.stack)).toBe(1);
    const after = await expectSoundStore(suite.stack);
    expect(after.blobs).toEqual([media.sha256]);
  });
});
