/**
 * The typed client (@wamedia/client) against the real API, not a stand-in: download (a 200 at
 * once, and a 202 it follows by polling), jobStatus, and the API's errors as WamediaApiError.
 */
import { createHash, randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { WamediaApiError, WamediaClient, type DownloadedMedia } from '@wamedia/client';
import type { DownloadRequestInput } from '@wamedia/shared';
import { downloadBody, eventually, type DownloadBody } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { gate } from '../support/gate.js';
import { jobIdOf } from '../support/jobs.js';

const INSTANCE = 'instance-client';

const suite = useCdnStack({});

function client(instanceId = INSTANCE): WamediaClient {
  return new WamediaClient({ baseUrl: suite.stack.baseUrl, token: suite.stack.token(instanceId), instanceId });
}

/** The tests' request body (content fields as loose JSON) as the client's input type. */
const asRequest = (body: DownloadBody) => body as DownloadRequestInput;

async function expectMedia(media: DownloadedMedia, plaintext: Buffer, mimetype: string): Promise<void> {
  const sha256 = createHash('sha256').update(plaintext).digest('hex');
  expect(media).toMatchObject({ sha256, size: plaintext.length, mimetype });
  expect(media.filename).toMatch(new RegExp(`^[a-z]+-${sha256.slice(0, 16)}\\.[a-z0-9]+$`));
  expect((await buffer(media.body)).equals(plaintext)).toBe(true);
}

describe('WamediaClient against the API', () => {
  it('downloads a media answered at once, Buffers and all', async () => {
    const published = suite.cdn.publish(randomBytes(30_000), 'image');
    const body = downloadBody(published, { mimetype: 'image/png' });
    const content = { ...body.content, mediaKey: Buffer.from(published.mediaKey, 'base64') };
    await expectMedia(await client().download({ contentType: 'image', content }), published.plaintext, 'image/png');
  });

  it('follows a 202 to the file, and reads the job through jobStatus', async () => {
    const published = suite.cdn.publish(randomBytes(20_000), 'document');
    const served = gate();
    suite.cdn.enqueue(published.directPathname, { kind: 'serve', headersAfter: served.opened });
    const jobId = jobIdOf(published);

    const downloading = client().download(asRequest(downloadBody(published, { omit: ['url'] })), { timeoutMs: 0, pollIntervalMs: 50 });
    // Read once the job exists (the download call adds it); it is held at the CDN until served.
    const running = await eventually(async () => client().jobStatus(jobId).catch(() => undefined), { what: 'the job' });
    expect(running).toMatchObject({ jobId, status: expect.stringMatching(/^(waiting|active|prioritized)$/), attemptsMade: 0 });
    served.open();
    await expectMedia(await downloading, published.plaintext, 'application/octet-stream');

    const done = await client().jobStatus(jobId);
    expect(done).toMatchObject({ jobId, status: 'completed', result: { sha256: published.sha256, size: published.fileLength } });
    expect(done.finishedAt).toBeDefined();
  });

  it("throws the API's errors as WamediaApiError: 422 integrity, 404 for an unknown job and for another instance's", async () => {
    const published = suite.cdn.publish(randomBytes(5_000), 'audio');
    const wrongKey = downloadBody(published, { content: { mediaKey: randomBytes(32).toString('base64') } });
    const integrity = await client().download(asRequest(wrongKey)).catch((error: unknown) => error);
    expect(integrity).toBeInstanceOf(WamediaApiError);
    expect(integrity).toMatchObject({ statusCode: 422, error: 'Unprocessable Entity', messages: [expect.stringMatching(/HMAC|mismatch/)] });

    const unknown = await client().jobStatus(`dl-${'0'.repeat(64)}`).catch((error: unknown) => error);
    expect(unknown).toMatchObject({ statusCode: 404 });

    const mine = suite.cdn.publish(randomBytes(5_000), 'audio');
    await buffer((await client().download(asRequest(downloadBody(mine)))).body);
    expect(await client('instance-other').jobStatus(jobIdOf(mine)).catch((error: unknown) => error)).toMatchObject({ statusCode: 404 });
  });
});
