/**
 * The media retry relay end to end: a media that expired on the CDN (403/404/410 for every
 * source), asked for with its message's key, makes its job wait for the phone's re-upload instead
 * of failing. The job status shows the receipt the caller's session sends, callback URLs get a
 * signed media.reupload_requested webhook, and the answer (a directPath, or the phone's encrypted
 * notification) wakes the job: a client still waiting gets its file, a batch finishes, the phone's
 * error answers end the job with their own status, and past REUPLOAD_WAIT_MS the job fails as
 * without a message key. The fake CDN plays the re-upload: the same .enc at a new path.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aesEncryptGCM, hkdf, proto } from 'baileys';
import { decryptRetryReceipt, encryptRetryNotification, type RetryResult } from '@wamedia/server';
import { verifyWebhook, type BatchStatus, type MessageKey } from '@wamedia/shared';
import { downloadBody, eventually, type ApiClient } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import type { FakeCdn, PublishedMedia } from '../support/fake-cdn.js';
import { jobIdOf, jobPath, jobReaches, type JobStatusBody } from '../support/jobs.js';
import { WebhookReceiver, ofType } from '../support/webhook-receiver.js';

const INSTANCE = 'retrying';
const OTHER = 'someone-else';
const SECRET = 'webhook-secret-for-the-media-retry-test';

interface AwaitingStatus extends JobStatusBody {
  reupload: { messageKey: MessageKey; receipt: { encP: string; encIv: string }; expiresAt: string };
}

/** A message key as Baileys hands it over, unique per test. */
function messageKey(): MessageKey {
  return { id: `3EB0${randomBytes(8).toString('hex').toUpperCase()}`, remoteJid: '5511999999999@s.whatsapp.net', fromMe: false };
}

/** Every media the tests made expire: none of their keys may show in clear in Redis or a log. */
const expired: PublishedMedia[] = [];

/** Publishes a media whose every source now answers `status` (it expired), as a message would carry it. */
function expiredMedia(cdn: FakeCdn, status = 404): PublishedMedia {
  const media = cdn.publish(randomBytes(2_000 + Math.floor(Math.random() * 1_000)), 'image');
  expired.push(media);
  cdn.setBehaviour(media.directPathname, { kind: 'status', status });
  cdn.setBehaviour(media.urlPathname, { kind: 'status', status });
  return media;
}

/** What the phone does on SUCCESS: the same .enc served again, at a new directPath. */
function reupload(cdn: FakeCdn, media: PublishedMedia): string {
  const pathname = `/v/t62.7118-24/reuploaded-${randomBytes(6).toString('hex')}.enc`;
  cdn.serveBytes(pathname, media.enc);
  return `${pathname}?ccb=11-4&oh=01_new&oe=${(Math.floor(Date.now() / 1000) + 86_400).toString(16)}`;
}

/** The phone's encrypted MediaRetryNotification, as Baileys' messages.media-update event carries it (byte objects). */
function notification(media: PublishedMedia, key: MessageKey, result: RetryResult, directPath?: string) {
  const sealed = encryptRetryNotification({ stanzaId: key.id, directPath, result }, Buffer.from(media.mediaKey, 'base64'), key.id);
  return { ciphertext: { ...Uint8Array.from(sealed.ciphertext) }, iv: { ...Uint8Array.from(sealed.iv) } };
}

function answer(api: ApiClient, jobId: string, body: unknown, instanceId = INSTANCE, token?: string) {
  return api.call('POST', `${jobPath(instanceId, jobId)}/reupload`, { instanceId, body: JSON.stringify(body), ...(token ? { token } : {}) });
}

function awaiting(api: ApiClient, jobId: string): Promise<AwaitingStatus> {
  return jobReaches(api, INSTANCE, jobId, 'awaiting_reupload') as Promise<AwaitingStatus>;
}

describe('the media retry relay', () => {
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await WebhookReceiver.start(SECRET);
  });

  afterAll(async () => {
    await receiver?.close();
  });

  const suite = useCdnStack({
    env: () => ({ WEBHOOK_SECRET: SECRET, WEBHOOK_ALLOWED_HOSTS: receiver.origin, REUPLOAD_WAIT_MS: '120000' }),
  });

  beforeAll(async () => {
    // Events are signed with the instance's own secret (derived from WEBHOOK_SECRET), as every other.
    await receiver.useSecretOf(suite.api, INSTANCE);
  });

  it('keeps a waiting client waiting, shows the receipt, and hands it the file once the phone re-uploads it', async () => {
    const media = expiredMedia(suite.cdn);
    const key = messageKey();
    const waiting = suite.api.download(INSTANCE, downloadBody(media, { content: { messageKey: key } }));

    const status = await awaiting(suite.api, jobIdOf(media));
    expect(status.reupload.messageKey).toEqual(key);
    expect(Date.parse(status.reupload.expiresAt) - Date.now()).toBeGreaterThan(60_000);
    const receipt = { encP: Buffer.from(status.reupload.receipt.encP, 'base64'), encIv: Buffer.from(status.reupload.receipt.encIv, 'base64') };
    expect(receipt.encIv).toHaveLength(12);
    expect(decryptRetryReceipt(receipt, Buffer.from(media.mediaKey, 'base64'), key.id)).toBe(key.id);

    const accepted = await answer(suite.api, jobIdOf(media), { directPath: reupload(suite.cdn, media) });
    expect(accepted.status, accepted.body.toString()).toBe(202);
    expect(accepted.json()).toEqual({ jobId: jobIdOf(media), status: expect.stringMatching(/^(waiting|active|prioritized|completed)$/) });
    expectBytes(await waiting, media.sha256, media.plaintext.length);
    // The expired sources were asked once: the job waited instead of retrying them.
    expect(suite.cdn.countMedia(media)).toBe(2);
  });

  it("takes the phone's notification as Baileys carries it, encrypted by Baileys' own code, with the mediaKey given as a Buffer", async () => {
    const media = expiredMedia(suite.cdn, 410);
    const key = messageKey();
    const mediaKey = Buffer.from(media.mediaKey, 'base64');
    const body = downloadBody(media, { content: { messageKey: key, mediaKey: mediaKey.toJSON() } });
    const accepted = await suite.api.download(INSTANCE, body, { timeout: 0 });
    expect(accepted.status).toBe(202);
    await awaiting(suite.api, jobIdOf(media));

    // The phone's side, as Baileys decrypts it (decryptMediaRetryData): the same key and additional data.
    const directPath = reupload(suite.cdn, media);
    const plaintext = proto.MediaRetryNotification.encode({ stanzaId: key.id, directPath, result: proto.MediaRetryNotification.ResultType.SUCCESS }).finish();
    const iv = randomBytes(12);
    const retryKey = hkdf(mediaKey, 32, { info: 'WhatsApp Media Retry Notification' });
    const ciphertext = aesEncryptGCM(Buffer.from(plaintext), Buffer.from(retryKey), iv, Buffer.from(key.id));
    // JSON.stringify of the event's Uint8Arrays: byte objects {"0": .., "1": ..}.
    const carried = JSON.parse(JSON.stringify({ ciphertext: new Uint8Array(ciphertext), iv: new Uint8Array(iv) })) as unknown;
    expect((await answer(suite.api, jobIdOf(media), { notification: carried })).status).toBe(202);

    expect((await jobReaches(suite.api, INSTANCE, jobIdOf(media), 'completed')).result).toMatchObject({ sha256: media.sha256 });
    expectBytes(await suite.api.get(`${jobPath(INSTANCE, jobIdOf(media))}/content`, INSTANCE), media.sha256, media.plaintext.length);
  });

  it('POSTs a signed media.reupload_requested webhook to the callbackUrl of a request that waits, with the receipt and where to answer', async () => {
    const media = expiredMedia(suite.cdn, 403);
    const key = { ...messageKey(), participant: '5511888888888@s.whatsapp.net' };
    const body = { ...downloadBody(media, { content: { messageKey: key } }), callbackUrl: `${receiver.origin}/single` };
    const waiting = suite.api.download(INSTANCE, body);

    const event = await receiver.next('/single', ofType('media.reupload_requested'));
    const delivered = receiver.deliveries.filter((d) => d.path === '/single');
    expect(delivered.every((d) => d.verified)).toBe(true);
    // Signed for this instance alone: WEBHOOK_SECRET itself does not verify it.
    expect(delivered.some((d) => verifyWebhook(SECRET, d.body, d.signature))).toBe(false);
    expect(event).toEqual({
      type: 'media.reupload_requested',
      jobId: jobIdOf(media),
      instanceId: INSTANCE,
      messageKey: key,
      receipt: { encP: expect.any(String), encIv: expect.any(String) },
      reuploadUrl: `${jobPath(INSTANCE, jobIdOf(media))}/reupload`,
      expiresAt: expect.any(String),
    });
    const receipt = { encP: Buffer.from(event.receipt.encP, 'base64'), encIv: Buffer.from(event.receipt.encIv, 'base64') };
    expect(decryptRetryReceipt(receipt, Buffer.from(media.mediaKey, 'base64'), key.id)).toBe(key.id);

    const reply = await suite.api.call('POST', event.reuploadUrl, {
      instanceId: INSTANCE,
      body: JSON.stringify({ notification: notification(media, key, 'SUCCESS', reupload(suite.cdn, media)) }),
    });
    expect(reply.status).toBe(202);
    expectBytes(await waiting, media.sha256, media.plaintext.length);
  });

  it('keeps a batch from being done while an item awaits a re-upload, says so, and finishes it after the re-upload', async () => {
    const fresh = suite.cdn.publish(randomBytes(1_500), 'document');
    const media = expiredMedia(suite.cdn);
    const key = messageKey();
    const items = [
      { id: 'fresh', ...downloadBody(fresh) },
      { id: 'expired', ...downloadBody(media, { content: { messageKey: key, mediaKey: { ...Uint8Array.from(Buffer.from(media.mediaKey, 'base64')) } } }) },
    ];
    const submitted = await suite.api.call('POST', `/api/v2/instance/${INSTANCE}/media/batch`, {
      instanceId: INSTANCE,
      body: JSON.stringify({ items, callbackUrl: `${receiver.origin}/batch` }),
    });
    const { batchId, statusUrl } = submitted.json<BatchStatus>();

    const event = await receiver.next('/batch', ofType('media.reupload_requested'));
    expect(receiver.deliveries.filter((d) => d.path === '/batch').every((d) => d.verified)).toBe(true);
    expect(event).toMatchObject({ jobId: jobIdOf(media), instanceId: INSTANCE, messageKey: key });
    const waitingBatch = await eventually(async () => {
      const batch = (await suite.api.get(statusUrl, INSTANCE)).json<BatchStatus>();
      return batch.items.find((item) => item.id === 'fresh')?.status === 'completed' ? batch : undefined;
    }, { what: 'the fresh item completed' });
    expect(waitingBatch.done).toBe(false);
    expect(waitingBatch.counts).toEqual({ pending: 1, completed: 1, failed: 0, invalid: 0 });
    expect(waitingBatch.items.find((item) => item.id === 'expired')).toMatchObject({ status: 'awaiting_reupload', jobId: jobIdOf(media) });
    const itemContent = await suite.api.get(`${statusUrl}/items/expired/content`, INSTANCE);
    expect(itemContent.status).toBe(202);
    expect(itemContent.json()).toMatchObject({ status: 'awaiting_reupload' });

    expect((await answer(suite.api, jobIdOf(media), { directPath: reupload(suite.cdn, media) })).status).toBe(202);
    const done = await receiver.next('/batch', ofType('batch.done'));
    expect(done).toEqual({ type: 'batch.done', batchId, instanceId: INSTANCE, counts: { pending: 0, completed: 2, failed: 0, invalid: 0 } });
    expectBytes(await suite.api.get(`${statusUrl}/items/expired/content`, INSTANCE), media.sha256, media.plaintext.length);
  });

  it.each([
    ['NOT_FOUND', 404, /no longer has it/],
    ['DECRYPTION_ERROR', 422, /could not decrypt/],
    ['GENERAL_ERROR', 502, /failed to re-upload/],
  ] as const)("ends the job when the phone answers %s: %i for the waiting client and in the job's status", async (result, status, message) => {
    const media = expiredMedia(suite.cdn);
    const key = messageKey();
    const waiting = suite.api.download(INSTANCE, downloadBody(media, { content: { messageKey: key } }));
    await awaiting(suite.api, jobIdOf(media));

    expect((await answer(suite.api, jobIdOf(media), { notification: notification(media, key, result) })).status).toBe(202);
    expectError(await waiting, status, message);
    const failed = await jobReaches(suite.api, INSTANCE, jobIdOf(media), 'failed');
    expect(failed.error).toMatchObject({ statusCode: status, message: expect.stringMatching(message) });
    expectError(await answer(suite.api, jobIdOf(media), { directPath: reupload(suite.cdn, media) }), 409, /not awaiting a re-upload/);
  });

  it('refuses a notification that does not decrypt with 422, and the job goes on waiting for a good one', async () => {
    const media = expiredMedia(suite.cdn);
    const key = messageKey();
    const waiting = suite.api.download(INSTANCE, downloadBody(media, { content: { messageKey: key } }));
    await awaiting(suite.api, jobIdOf(media));

    const otherKey = encryptRetryNotification({ stanzaId: key.id, result: 'SUCCESS', directPath: '/v/x' }, randomBytes(32), key.id);
    const otherMessage = notification(media, { ...key, id: 'ANOTHER-MESSAGE' }, 'SUCCESS', '/v/x');
    for (const bad of [{ ciphertext: Buffer.from(otherKey.ciphertext).toString('base64'), iv: Buffer.from(otherKey.iv).toString('base64') }, otherMessage]) {
      expectError(await answer(suite.api, jobIdOf(media), { notification: bad }), 422, /does not decrypt/);
    }
    await awaiting(suite.api, jobIdOf(media));

    expect((await answer(suite.api, jobIdOf(media), { notification: notification(media, key, 'SUCCESS', reupload(suite.cdn, media)) })).status).toBe(202);
    expectBytes(await waiting, media.sha256, media.plaintext.length);
  });

  it('answers 409 for a job that is not awaiting a re-upload, and 401/403/404 for tokens and other instances', async () => {
    const served = suite.cdn.publish(randomBytes(800), 'audio');
    expectBytes(await suite.api.download(INSTANCE, downloadBody(served, { content: { messageKey: messageKey() } })), served.sha256, served.plaintext.length);
    expectError(await answer(suite.api, jobIdOf(served), { directPath: '/v/x' }), 409, /not awaiting a re-upload/);

    const media = expiredMedia(suite.cdn);
    const waiting = suite.api.download(INSTANCE, downloadBody(media, { content: { messageKey: messageKey() } }), { timeout: 0 });
    expect((await waiting).status).toBe(202);
    await awaiting(suite.api, jobIdOf(media));
    const jobId = jobIdOf(media);
    expectError(await answer(suite.api, jobId, { directPath: '/v/x' }, OTHER), 404, /not found/);
    expectError(await answer(suite.api, jobId, { directPath: '/v/x' }, INSTANCE, suite.stack.token(OTHER)), 403);
    expectError(await suite.api.call('POST', `${jobPath(INSTANCE, jobId)}/reupload`, { body: '{"directPath":"/v/x"}', token: null }), 401);
    expectError(await answer(suite.api, `dl-${'0'.repeat(64)}`, { directPath: '/v/x' }), 404, /not found/);
    // Another instance sees no status either; this one still sees it waiting.
    expectError(await suite.api.get(jobPath(OTHER, jobId), OTHER), 404);
    await awaiting(suite.api, jobId);
  });

  it('answers a re-upload body of the wrong shape or size with 400, one message per problem', async () => {
    const media = expiredMedia(suite.cdn);
    await suite.api.download(INSTANCE, downloadBody(media, { content: { messageKey: messageKey() } }), { timeout: 0 });
    const jobId = jobIdOf(media);
    await awaiting(suite.api, jobId);
    const iv = Buffer.alloc(12).toString('base64');
    const cases: [unknown, RegExp][] = [
      [{}, /exactly one of directPath and notification/],
      [[], /body: must be a JSON object/],
      [{ directPath: '/v/x', notification: { ciphertext: Buffer.alloc(40).toString('base64'), iv } }, /exactly one of/],
      [{ directPath: 'v/x' }, /directPath: must be a path starting with "\/"/],
      [{ directPath: `/${'a'.repeat(5000)}` }, /directPath: .*4096/],
      [{ directPath: 42 }, /directPath: must be a string/],
      [{ notification: 'abc' }, /notification: must be an object/],
      [{ notification: { iv } }, /notification.ciphertext: is required/],
      [{ notification: { ciphertext: '%%%', iv } }, /notification.ciphertext: is not valid base64/],
      [{ notification: { ciphertext: Buffer.alloc(8).toString('base64'), iv } }, /notification.ciphertext: must be 16 to 8192 bytes, got 8/],
      [{ notification: { ciphertext: Buffer.alloc(9000).toString('base64'), iv } }, /must be 16 to 8192 bytes, got 9000/],
      [{ notification: { ciphertext: Buffer.alloc(40).toString('base64'), iv: Buffer.alloc(16).toString('base64') } }, /notification.iv: must be 12 bytes, got 16/],
      [{ notification: { ciphertext: [1, 2, 300], iv } }, /every byte must be an integer/],
    ];
    for (const [body, message] of cases) expectError(await answer(suite.api, jobId, body), 400, message);
    expectError(await answer(suite.api, jobId, 'not json' as unknown), 400);
    // Still waiting.
    await awaiting(suite.api, jobId);
  });

  it('fails at once with 404 as before when the request names no message key', async () => {
    const media = expiredMedia(suite.cdn);
    expectError(await suite.api.download(INSTANCE, downloadBody(media)), 404, /re-uploaded from the phone/);
    expectError(await answer(suite.api, jobIdOf(media), { directPath: '/v/x' }), 409);
  });

  it('never holds a mediaKey in clear, in Redis (rounds, receipts, answers) or in any log line', async () => {
    // One round still waiting, so its record is there to be read.
    const media = expiredMedia(suite.cdn);
    await suite.api.download(INSTANCE, downloadBody(media, { content: { messageKey: messageKey() } }), { timeout: 0 });
    await awaiting(suite.api, jobIdOf(media));
    const redis = await suite.stack.redis();
    const keys = await suite.stack.redisKeys();
    expect(keys.some((key) => key.includes(':reupload:'))).toBe(true);
    const stored = (await Promise.all(keys.map(async (key) => (await redis.contents(key)).values.join('\n')))).join('\n');
    const logged = suite.stack.logs().map((line) => JSON.stringify(line)).join('\n');
    for (const { mediaKey } of expired) {
      const key = Buffer.from(mediaKey, 'base64');
      for (const encoded of [key.toString('base64').replace(/=+$/, ''), key.toString('base64url'), key.toString('hex')]) {
        expect(stored.includes(encoded), `a mediaKey in Redis (${encoded})`).toBe(false);
        expect(logged.includes(encoded), `a mediaKey in the logs (${encoded})`).toBe(false);
      }
    }
  });

  describe('past REUPLOAD_WAIT_MS', () => {
    const short = useCdnStack({ cdnOf: suite, env: { REUPLOAD_WAIT_MS: '1500' } });

    it("ends the job with today's 404 when no answer came in time, and refuses a late one with 409", async () => {
      const media = expiredMedia(suite.cdn, 410);
      const started = Date.now();
      const waiting = short.api.download(INSTANCE, downloadBody(media, { content: { messageKey: messageKey() } }));
      const status = await jobReaches(short.api, INSTANCE, jobIdOf(media), 'awaiting_reupload');
      expect(status.status).toBe('awaiting_reupload');
      expectError(await waiting, 404, /HTTP 410.*re-uploaded from the phone/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
      expect((await jobReaches(short.api, INSTANCE, jobIdOf(media), 'failed')).error).toMatchObject({ statusCode: 404 });
      expectError(await answer(short.api, jobIdOf(media), { directPath: reupload(suite.cdn, media) }), 409);
    });
  });
});
