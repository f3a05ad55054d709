/**
 * Fault injection: a download job that already failed for good runs again. That happens when its
 * worker dies after the job's end was recorded (mediaKey removed, followers told) but before the
 * queue moved it to failed (stall detection gives it to another worker), or when an operator
 * re-queues it. The job has no mediaKey left, so a new download could only fail otherwise (an
 * internal error, retried) and tell its followers a different end. Its recorded failure is the
 * answer instead: the same 404, final at once, and no new CDN request.
 *
 * One fs stack, one worker; the job is re-queued with BullMQ's own retry of a failed job.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOWNLOAD_QUEUE } from '@wamedia/shared';
import { downloadBody, eventually } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectError } from '../support/expectations.js';
import { jobIdOf, jobPath, type JobStatusBody } from '../support/jobs.js';

const INSTANCE = 'instance-faults-ended-again';

// The joining request must find the job within FAILED_JOB_REUSE_MS of its second failure, or it
// replaces the job with a fresh one (as it should): a starved API can take longer than the 10 s default.
const suite = useCdnStack({ readyTimeoutMs: 120_000, env: { FAILED_JOB_REUSE_MS: '600000' } });
let queue: Queue;

beforeAll(() => {
  const redis = new URL(suite.stack.env.REDIS_URL!);
  queue = new Queue(DOWNLOAD_QUEUE, { connection: { host: redis.hostname, port: Number(redis.port || 6379) }, prefix: suite.stack.prefix });
});

afterAll(async () => {
  await queue?.close();
});

describe('a download job that failed for good and runs again', () => {
  it('fails again at once with its recorded failure, without a CDN request, and a client joining it gets that answer', async () => {
    const media = suite.cdn.publish(randomBytes(32 * 1024), 'image');
    suite.cdn.setBehaviour(media.directPathname, { kind: 'status', status: 404 });
    const body = downloadBody(media, { omit: ['url'] });
    expectError(await suite.api.download(INSTANCE, body, { timeout: 60_000 }), 404);
    expect(suite.cdn.count(media.directPathname)).toBe(1);

    const job = (await queue.getJob(jobIdOf(media)))!;
    expect(await job.getState()).toBe('failed');
    expect(job.data.mediaKey).toBeUndefined();
    expect(job.data.failure).toMatch(/MEDIA_EXPIRED/);
    await job.retry('failed');
    // Within FAILED_JOB_REUSE_MS an identical request shares the job, running or failed again.
    const joiner = suite.api.download(INSTANCE, body, { timeout: 60_000 });

    const again = await eventually(
      async () => {
        const current = await queue.getJob(job.id!);
        return current && (await current.getState()) === 'failed' && current.attemptsMade > job.attemptsMade ? current : undefined;
      },
      { timeoutMs: 60_000, what: 'the job failed again' },
    );
    // Once more, and final: no attempt left to an internal error that would end it otherwise.
    expect(again.attemptsMade).toBe(job.attemptsMade + 1);
    expectError(await joiner, 404);
    const status = (await suite.api.get(jobPath(INSTANCE, job.id!), INSTANCE)).json<JobStatusBody>();
    expect(status).toMatchObject({ status: 'failed', error: { statusCode: 404 } });
    expect(suite.cdn.count(media.directPathname)).toBe(1);
  });
});
