/**
 * Secrets at rest and in logs, end to end: the mediaKey in Redis is only ever in its sealed form
 * (AES-256-GCM under JOB_DATA_KEY), while a job waits and after it ended (single requests and
 * batches, successes and failures), in every key of the stack's prefix whatever its type (BullMQ's
 * job hashes, lists, sorted sets and events streams; wamedia's own keys). No process output holds
 * a mediaKey, a token, or a CDN URL's oh=/oe= values. A worker with another JOB_DATA_KEY fails the
 * job with a clear error and keeps running.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BatchStatus } from '@wamedia/shared';
import { downloadBody, eventually, type ApiResponse } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import { type PublishedMedia } from '../support/fake-cdn.js';
import type { ServiceProcess } from '../support/service-process.js';

const INSTANCE = 'tenant-secrets';
const SEALED = /^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/;

/** One worker taking one job at a time, so a second job waits in the queue. */
const suite = useCdnStack({ workers: 1, env: { WORKER_CONCURRENCY: '1', JOB_ATTEMPTS: '2' } });

/** Every media sent and every mediaKey used: none may be found in clear. */
const published: PublishedMedia[] = [];
const otherKeys: Buffer[] = [];
/** Every token used (each with a claim of its own). */
const tokens: string[] = [];
/** Processes of other stacks, whose output the log search covers too. */
const otherProcesses: ServiceProcess[] = [];

function publish(size = 6_000): PublishedMedia {
  const media = suite.cdn.publish(randomBytes(size), 'document');
  published.push(media);
  return media;
}

/** A token of its own for each call, so the log search knows every token sent. */
function token(instanceId = INSTANCE): string {
  const value = suite.stack.token(instanceId, { claims: { jti: randomBytes(8).toString('hex') } });
  tokens.push(value);
  return value;
}

/** The four encodings a mediaKey could show up in. */
function encodings(key: Buffer): string[] {
  return [key.toString('base64').replace(/=+$/, ''), key.toString('base64url'), key.toString('hex'), key.toString('hex').toUpperCase()];
}

function allMediaKeys(): Buffer[] {
  return [...published.map((media) => Buffer.from(media.mediaKey, 'base64')), ...otherKeys];
}

/** Every key of the stack's prefix with its type and contents. */
async function redisDump(): Promise<{ key: string; type: string; text: string }[]> {
  const redis = await suite.stack.redis();
  const dump = [];
  for (const key of await suite.stack.redisKeys()) {
    const { type, values } = await redis.contents(key);
    dump.push({ key, type, text: values.join('\n') });
  }
  return dump;
}

/** Keys holding a mediaKey in clear, in any encoding. */
async function clearKeysInRedis(): Promise<string[]> {
  const dump = await redisDump();
  const found: string[] = [];
  for (const key of allMediaKeys()) {
    for (const encoded of encodings(key)) {
      for (const entry of dump) if (entry.text.includes(encoded)) found.push(`${entry.key} (${entry.type})`);
    }
  }
  return [...new Set(found)];
}

/** The job's data as BullMQ keeps it in its hash. */
async function jobData(jobId: string): Promise<Record<string, unknown>> {
  const redis = await suite.stack.redis();
  const data = (await redis.command('HGET', `${suite.stack.prefix}:media-download:${jobId}`, 'data')) as string | null;
  if (data === null) throw new Error(`job ${jobId} has no hash`);
  return JSON.parse(data) as Record<string, unknown>;
}

async function jobState(jobId: string): Promise<string> {
  const response = await suite.api.get(`/api/v2/instance/${INSTANCE}/media/jobs/${jobId}`, INSTANCE, { token: token() });
  return response.json<{ status: string }>().status;
}

describe('the mediaKey in Redis', () => {
  it('is sealed in the job data while the job runs and while it waits, and found in clear nowhere', async () => {
    const running = publish();
    const waiting = publish();
    suite.cdn.setBehaviour(running.directPathname, { kind: 'serve', headerDelayMs: 2_500 });
    const first = await suite.api.download(INSTANCE, downloadBody(running, { omit: ['url'] }), { timeout: 0, token: token() });
    const second = await suite.api.download(INSTANCE, downloadBody(waiting, { omit: ['url'] }), { timeout: 0, token: token() });
    expect([first.status, second.status]).toEqual([202, 202]);
    const runningJob = first.json<{ jobId: string }>().jobId;
    const waitingJob = second.json<{ jobId: string }>().jobId;
    await eventually(async () => ((await jobState(runningJob)) === 'active' ? true : undefined), { what: 'the first job running' });
    // One worker, one job at a time: the second one waits in the queue behind the slow first.
    expect(await jobState(waitingJob)).toBe('waiting');

    for (const jobId of [runningJob, waitingJob]) {
      const data = await jobData(jobId);
      expect(data.mediaKey, jobId).toMatch(SEALED);
      expect(Object.keys(data)).toContain('lookupKey');
    }
    const dump = await redisDump();
    // The dump covers BullMQ's job hashes and its events stream.
    expect(dump.some((entry) => entry.type === 'stream' && entry.key.endsWith(':media-download:events'))).toBe(true);
    expect(dump.filter((entry) => entry.type === 'hash' && entry.key.includes(':media-download:dl-'))).toHaveLength(2);
    expect(await clearKeysInRedis()).toEqual([]);

    expectBytes(await suite.api.download(INSTANCE, downloadBody(running, { omit: ['url'] }), { token: token() }), running.sha256, running.fileLength);
    expectBytes(await suite.api.download(INSTANCE, downloadBody(waiting, { omit: ['url'] }), { token: token() }), waiting.sha256, waiting.fileLength);
    // Ended: not even the sealed form is kept, nor the CDN's signature of the reference.
    for (const [jobId, media] of [[runningJob, running], [waitingJob, waiting]] as const) {
      const ended = await jobData(jobId);
      expect(ended).not.toHaveProperty('mediaKey');
      expect(ended.directPath).toBe(media.directPath.replace(/&oh=[^&]*&oe=[^&]*/, ''));
    }
    expect(await clearKeysInRedis()).toEqual([]);
  });

  it('is sealed for batch items too, and gone from every job once the batch is done', async () => {
    const items = Array.from({ length: 5 }, () => publish(3_000));
    const expired = publish(2_000);
    suite.cdn.setBehaviour(expired.directPathname, { kind: 'status', status: 404 });
    suite.cdn.setBehaviour(expired.urlPathname, { kind: 'status', status: 404 });
    const wrongKey = randomBytes(32);
    otherKeys.push(wrongKey);
    const corrupt = publish(2_000);
    const body = [
      ...items.map((media, i) => ({ id: `item-${i}`, ...downloadBody(media) })),
      { id: 'expired', ...downloadBody(expired) },
      { id: 'wrong-key', ...downloadBody(corrupt, { content: { mediaKey: wrongKey.toString('base64') } }) },
    ];
    const submitted = await suite.api.call('POST', `/api/v2/instance/${INSTANCE}/media/batch`, {
      token: token(),
      body: JSON.stringify({ items: body }),
    });
    expect(submitted.status, submitted.body.toString()).toBe(202);
    const batch = submitted.json<BatchStatus>();
    const jobIds = batch.items.map((item) => item.jobId).filter((id): id is string => !!id);
    expect(jobIds).toHaveLength(7);
    // Right after the submission, jobs still waiting hold the sealed key only.
    const waiting = [];
    for (const jobId of jobIds) {
      const data = await jobData(jobId);
      if ('mediaKey' in data) waiting.push(data.mediaKey);
    }
    expect(waiting.length).toBeGreaterThan(0);
    for (const sealed of waiting) expect(sealed).toMatch(SEALED);
    expect(await clearKeysInRedis()).toEqual([]);

    const done = await eventually(
      async () => {
        const status = (await suite.api.get(batch.statusUrl, INSTANCE, { token: token() })).json<BatchStatus>();
        return status.done ? status : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 300, what: 'the batch finishing' },
    );
    expect(done.counts).toMatchObject({ completed: 5, failed: 2 });
    for (const jobId of jobIds) {
      const ended = await jobData(jobId);
      expect(ended).not.toHaveProperty('mediaKey');
      expect(`${ended.url} ${ended.directPath}`, jobId).not.toMatch(/[?&](oh|oe)=/);
    }
    expect(await clearKeysInRedis()).toEqual([]);
  });
});

describe('a worker with another JOB_DATA_KEY', () => {
  const apiKey = randomBytes(32);
  const mismatched = useCdnStack({ cdnOf: suite, workers: 0, env: { JOB_DATA_KEY: apiKey.toString('base64'), JOB_ATTEMPTS: '2' } });

  beforeAll(async () => {
    await mismatched.stack.startWorker({ JOB_DATA_KEY: randomBytes(32).toString('hex') });
    // Their output is searched for secrets too.
    otherProcesses.push(...mismatched.stack.processes);
  });

  it('fails the job with a clear 500 naming JOB_DATA_KEY, keeps running, and a worker with the right key downloads', async () => {
    const media = publish();
    const accepted = await mismatched.api.download(INSTANCE, downloadBody(media), { timeout: 0 });
    expect(accepted.status).toBe(202);
    const { statusUrl } = accepted.json<{ statusUrl: string }>();
    const status = await eventually(
      async () => {
        const polled = (await mismatched.api.get(statusUrl, INSTANCE)).json<{ status: string }>();
        return polled.status === 'failed' ? polled : undefined;
      },
      { what: 'the job failing' },
    );
    const clear = /cannot open the job's mediaKey: it was sealed with another JOB_DATA_KEY \(key id [0-9a-f]{8}; this process has [0-9a-f]{8}\)/;
    expect(status).toMatchObject({ attemptsMade: 2, error: { statusCode: 500, message: expect.stringMatching(clear) } });
    // A client asking for it gets the same clear answer.
    expectError(await mismatched.api.download(INSTANCE, downloadBody(media)), 500, clear, /same JOB_DATA_KEY/);
    // Both attempts were made (another worker might have had the right key); none reached the CDN.
    const worker = mismatched.stack.workers[0]!;
    const attempts = worker.logsWithMsg('attempt failed');
    expect(attempts).toHaveLength(2);
    for (const line of attempts) expect(String(line.reason)).toMatch(/JOB_DATA_UNREADABLE/);
    expect(suite.cdn.countMedia(media)).toBe(0);
    expect(worker.running).toBe(true);
    expect((await fetch(`${mismatched.stack.baseUrl}/readyz`)).status).toBe(200);

    await worker.stop();
    await mismatched.stack.startWorker({ JOB_DATA_KEY: apiKey.toString('hex') });
    const fresh = publish();
    expectBytes(await mismatched.api.download(INSTANCE, downloadBody(fresh)), fresh.sha256, fresh.fileLength);
  });
});

describe('the logs', () => {
  it('hold no mediaKey, token or oh=/oe= value, also when the CDN fails and its URLs are in error messages', async () => {
    // A retried attempt, then a download that fails for good (502): both are logged with their reasons.
    const flaky = publish();
    suite.cdn.failTimes(flaky.directPathname, 1, 500);
    suite.cdn.failTimes(flaky.urlPathname, 1, 500);
    expectBytes(await suite.api.download(INSTANCE, downloadBody(flaky), { token: token() }), flaky.sha256, flaky.fileLength);
    const broken = publish();
    suite.cdn.setBehaviour(broken.directPathname, { kind: 'status', status: 503 });
    suite.cdn.setBehaviour(broken.urlPathname, { kind: 'reset' });
    const failed: ApiResponse = await suite.api.download(INSTANCE, downloadBody(broken), { token: token() });
    expectError(failed, 502);
    // A token in a header the API does not expect, and one that is refused.
    expectError(await suite.api.download(INSTANCE, downloadBody(flaky), { token: `${token()}x` }), 401);
    // Their lines are written after the answers.
    await new Promise((resolve) => setTimeout(resolve, 300));

    const secrets: [string, string][] = [];
    for (const key of allMediaKeys()) for (const encoded of encodings(key)) secrets.push(['a mediaKey', encoded]);
    for (const media of published) {
      for (const reference of [media.directPath, media.url]) {
        const query = new URL(reference, suite.cdn.origin).searchParams;
        secrets.push(['an oh= signature', query.get('oh')!], ['an oe= expiry', query.get('oe')!]);
      }
    }
    for (const value of tokens) secrets.push(['a token', value], ['a token signature', value.split('.')[2]!]);
    const processes = [...suite.stack.processes, ...otherProcesses];
    expect(otherProcesses.length).toBeGreaterThan(0);
    const outputs = processes.map((service) => ({ name: service.name, text: `${service.stdoutLines.join('\n')}\n${service.stderr}` }));
    // The search runs over real output whose failure messages name the CDN URLs (origin and path).
    const all = outputs.map((output) => output.text).join('\n');
    expect(all).toMatch(/CDN answered HTTP 500 for http:\/\/127\.0\.0\.1:\d+\/\S+\.enc/);
    expect(all).toMatch(/request to http:\/\/127\.0\.0\.1:\d+\/\S+\.enc failed/);
    const leaks: string[] = [];
    for (const { name, text } of outputs) {
      for (const [what, secret] of secrets) if (text.includes(secret)) leaks.push(`${what} in the output of ${name}`);
      if (/[?&](oh|oe)=(?!\[redacted\])/.test(text)) leaks.push(`an oh=/oe= query value in the output of ${name}`);
    }
    expect([...new Set(leaks)]).toEqual([]);
  });
});
