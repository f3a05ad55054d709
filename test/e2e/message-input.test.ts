/**
 * A WhatsApp message as input, end to end: each shape a library hands over (a Baileys
 * WebMessageInfo, a bare Message, an Evolution API webhook), each wrapper and wrappers inside
 * wrappers, the flags that pick the contentType, through the single endpoint and a batch (where
 * an item's id defaults to the message's key.id), the key carried into the job, and the 400s of
 * messages that hold no usable media. The fake CDN serves media made by the project's encryptor.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WamediaClient } from '@wamedia/client';
import type { BatchStatus, ContentType } from '@wamedia/shared';
import { eventually, type ApiResponse } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import type { PublishedMedia } from '../support/fake-cdn.js';
import { jobIdOf } from '../support/jobs.js';

const INSTANCE = 'instance-messages';

describe('a WhatsApp message as input', () => {
  const suite = useCdnStack();

  const keyOf = (id: string) => ({ remoteJid: '5511999999999@s.whatsapp.net', fromMe: false, id, participant: '5511888888888@s.whatsapp.net' });
  const newKey = () => keyOf(`3EB0${randomBytes(8).toString('hex').toUpperCase()}`);
  const bytesOf = (base64: string) => [...Buffer.from(base64, 'base64')];

  /** The media fields of a message, as Baileys' JSON has them (base64), with a thumbnail and caption besides. */
  function mediaMessage(media: PublishedMedia, extra: Record<string, unknown> = {}) {
    const { url, directPath, mediaKey, fileSha256, fileEncSha256, fileLength } = media;
    return { url, directPath, mediaKey, fileSha256, fileEncSha256, fileLength, caption: 'look', jpegThumbnail: randomBytes(2_000).toString('base64'), ...extra };
  }

  const download = (body: unknown) => suite.api.download(INSTANCE, body);

  /** Asserts the file, and the contentType the API read, which names the attachment. */
  function expectMedia(response: ApiResponse, media: PublishedMedia, contentType: ContentType = media.contentType) {
    expectBytes(response, media.sha256, media.plaintext.length);
    expect(response.header('content-disposition')).toMatch(new RegExp(`^attachment; filename="?${contentType}-${media.sha256.slice(0, 16)}\\.`));
  }

  /** The data of a media's download job, as BullMQ keeps it in Redis. */
  async function jobData(media: PublishedMedia): Promise<Record<string, unknown>> {
    const redis = await suite.stack.redis();
    const data = (await redis.command('HGET', `${suite.stack.prefix}:media-download:${jobIdOf(media)}`, 'data')) as string | null;
    if (data === null) throw new Error(`no job for ${media.directPathname}`);
    return JSON.parse(data) as Record<string, unknown>;
  }

  describe('the single endpoint', () => {
    /** Each shape of a message, for one media: and the key it carries. */
    const shapes: [string, (media: PublishedMedia, key: ReturnType<typeof keyOf>) => unknown, boolean][] = [
      ['a Baileys WebMessageInfo (Buffers as JSON, fileLength a string)', (media, key) => ({
        key,
        message: {
          imageMessage: {
            ...mediaMessage(media),
            mediaKey: { type: 'Buffer', data: bytesOf(media.mediaKey) },
            fileSha256: { type: 'Buffer', data: bytesOf(media.fileSha256) },
            fileLength: String(media.fileLength),
          },
        },
        messageTimestamp: 1718000000,
      }), true],
      ['a bare Message', (media) => ({ imageMessage: mediaMessage(media) }), false],
      ['an Evolution API webhook (Uint8Arrays as JSON, fileLength a Long)', (media, key) => ({
        event: 'messages.upsert',
        instance: 'shop',
        data: {
          key,
          pushName: 'Ana',
          message: {
            imageMessage: {
              ...mediaMessage(media),
              mediaKey: Object.fromEntries(bytesOf(media.mediaKey).map((byte, i) => [String(i), byte])),
              fileLength: { low: media.fileLength, high: 0, unsigned: true },
            },
          },
          messageType: 'imageMessage',
        },
      }), true],
    ];

    it.each(shapes)('downloads the media of %s, and carries its key into the job', async (_, shape, keyed) => {
      const media = suite.cdn.publish(randomBytes(30_000), 'image');
      const key = newKey();
      expectMedia(await download({ message: shape(media, key) }), media);
      const data = await jobData(media);
      if (keyed) expect(data.messageKey).toEqual(key);
      else expect(data).not.toHaveProperty('messageKey');
    });

    it.each([
      ['ephemeralMessage', 'imageMessage', 'image'],
      ['viewOnceMessage', 'imageMessage', 'image'],
      ['viewOnceMessageV2', 'videoMessage', 'video'],
      ['viewOnceMessageV2Extension', 'audioMessage', 'audio'],
      ['documentWithCaptionMessage', 'documentMessage', 'document'],
    ] as const)('looks through %s', async (wrapper, field, contentType) => {
      const media = suite.cdn.publish(randomBytes(10_000), contentType);
      const message = { [wrapper]: { message: { [field]: mediaMessage(media) } } };
      expectMedia(await download({ message: { key: newKey(), message } }), media);
    });

    it('looks through wrappers inside wrappers, 4 deep', async () => {
      const media = suite.cdn.publish(randomBytes(10_000), 'ptt');
      const wrapped = ['ephemeralMessage', 'viewOnceMessageV2', 'viewOnceMessage', 'ephemeralMessage'].reduceRight<object>(
        (message, wrapper) => ({ [wrapper]: { message } }),
        { audioMessage: mediaMessage(media, { ptt: true }) },
      );
      expectMedia(await download({ message: { key: newKey(), message: wrapped } }), media, 'ptt');
    });

    it.each([
      ['videoMessage', { gifPlayback: true }, 'gif'],
      ['videoMessage', { gifPlayback: false }, 'video'],
      ['audioMessage', { ptt: true }, 'ptt'],
      ['audioMessage', { ptt: false }, 'audio'],
      ['ptvMessage', {}, 'ptv'],
      ['stickerMessage', {}, 'sticker'],
    ] as const)('reads %s with %j as a %s', async (field, flags, contentType) => {
      const media = suite.cdn.publish(randomBytes(5_000), contentType);
      const response = await download({ message: { key: newKey(), message: { [field]: mediaMessage(media, flags) } } });
      expectMedia(response, media, contentType);
    });

    it('reads the callbackUrl beside the message', async () => {
      const media = suite.cdn.publish(randomBytes(1_000), 'image');
      const response = await download({ message: { imageMessage: mediaMessage(media) }, callbackUrl: 'https://hooks.example.com/x' });
      // This stack has no WEBHOOK_SECRET: the callbackUrl is refused, so it was read.
      expectError(response, 400, /^callbackUrl: webhooks are off/);
    });
  });

  describe('the typed client', () => {
    it('downloads a message, and a batch of messages, through the real API', async () => {
      const client = new WamediaClient({ baseUrl: suite.stack.baseUrl, token: suite.stack.token(INSTANCE), instanceId: INSTANCE });
      const single = suite.cdn.publish(randomBytes(8_000), 'ptt');
      const key = newKey();
      const media = await client.download({ message: { key, message: { audioMessage: mediaMessage(single, { ptt: true }) } } });
      const chunks: Buffer[] = [];
      for await (const chunk of media.body) chunks.push(Buffer.from(chunk as Buffer));
      expect(Buffer.concat(chunks).equals(single.plaintext)).toBe(true);
      expect(media.filename).toMatch(/^ptt-/);
      expect((await jobData(single)).messageKey).toEqual(key);

      const batched = suite.cdn.publish(randomBytes(8_000), 'sticker');
      const other = newKey();
      const status = await client.submitBatch([{ message: { key: other, message: { stickerMessage: mediaMessage(batched) } } }]);
      expect(status.items).toMatchObject([{ id: other.id }]);
      const results = [];
      for await (const item of client.batchResults(status.batchId, { pollIntervalMs: 50 })) results.push(item);
      expect(results).toMatchObject([{ id: other.id, status: 'completed', contentType: 'sticker', result: { sha256: batched.sha256 } }]);
    });
  });

  describe('messages without a usable media', () => {
    const media = () => suite.cdn.publish(randomBytes(1_000), 'image');
    const wrap = (depth: number, inner: object): object => (depth === 0 ? inner : { ephemeralMessage: { message: wrap(depth - 1, inner) } });

    it.each<[string, () => unknown, RegExp]>([
      ['a message without media, naming the fields it found', () => ({ message: { key: newKey(), message: { conversation: 'hi', messageContextInfo: {} } } }),
        /^message\.message: no media: expected one of imageMessage, .*; found fields "conversation", "messageContextInfo"$/],
      ['an Evolution webhook without media', () => ({ message: { event: 'messages.upsert', data: { key: newKey(), message: { reactionMessage: { text: '👍' } } } } }),
        /^message\.data\.message: no media: .*found fields "reactionMessage"$/],
      ['an empty message', () => ({ message: {} }), /^message: no media: .*found no fields$/],
      ['wrappers nested 5 deep', () => ({ message: wrap(5, { imageMessage: mediaMessage(media()) }) }),
        /^message(\.ephemeralMessage\.message){5}: wrappers nested more than 4 deep/],
      ['a message that is null', () => ({ message: null }), /^message: must be a WhatsApp message \(a JSON object\)$/],
      ['a message that is an array', () => ({ message: [{ imageMessage: {} }] }), /^message: must be a WhatsApp message/],
      ['a message that is text', () => ({ message: 'imageMessage' }), /^message: must be a WhatsApp message/],
      ['a message beside contentType and content', () => ({ message: { imageMessage: mediaMessage(media()) }, contentType: 'image', content: {} }),
        /^message: send either a message, or contentType and content, not both$/],
      ['a media with a bad mediaKey, named where it is', () => ({ message: { key: newKey(), message: { viewOnceMessage: { message: { imageMessage: { ...mediaMessage(media()), mediaKey: 'AAAA' } } } } } }),
        /^message\.message\.viewOnceMessage\.message\.imageMessage\.mediaKey: must be 32 bytes, got 3$/],
      ['a media with neither url nor directPath', () => ({ message: { imageMessage: { mediaKey: mediaMessage(media()).mediaKey } } }),
        /^message\.imageMessage: must have a url or a directPath$/],
      ['a key whose fromMe is not a boolean', () => ({ message: { key: { ...newKey(), fromMe: 'yes' }, message: { imageMessage: mediaMessage(media()) } } }),
        /^message\.key\.fromMe: /],
      ['a message of 10,000 fields, none a media', () => ({ message: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`field${'x'.repeat(60)}${i}`, i])) }),
        /^message: no media: .*found fields ("fieldx+\.\.\.", ){8}\.\.\.$/],
    ])('answers %s with 400, and asks the CDN nothing', async (_, body, message) => {
      const before = suite.cdn.count();
      const { message: messages } = expectError(await download(body()), 400, message);
      expect(messages).toHaveLength(1);
      expect(messages[0]!.length).toBeLessThan(1_000);
      expect(suite.cdn.count()).toBe(before);
    });

    it('reads own fields only: a __proto__ holding a media is no media', async () => {
      const raw = `{"message":{"__proto__":{"imageMessage":${JSON.stringify(mediaMessage(media()))}}}}`;
      expectError(await download(raw), 400, /^message: no media: .*found fields "__proto__"$/);
    });
  });

  describe('a batch of messages', () => {
    const submit = (items: unknown[]) =>
      suite.api.call('POST', `/api/v2/instance/${INSTANCE}/media/batch`, { instanceId: INSTANCE, body: JSON.stringify({ items }) });

    async function waitUntilDone(batchId: string): Promise<BatchStatus> {
      return eventually(
        async () => {
          const status = (await suite.api.get(`/api/v2/instance/${INSTANCE}/media/batch/${batchId}`, INSTANCE)).json<BatchStatus>();
          return status.done ? status : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: 'the batch finishing' },
      );
    }

    it('downloads each shape, ids defaulting to key.id, and marks the items without one or without media invalid', async () => {
      const baileys = suite.cdn.publish(randomBytes(4_000), 'image');
      const bare = suite.cdn.publish(randomBytes(5_000), 'document');
      const evolution = suite.cdn.publish(randomBytes(6_000), 'gif');
      const reference = suite.cdn.publish(randomBytes(7_000), 'audio');
      const keys = [newKey(), newKey(), newKey()];
      const items = [
        { message: { key: keys[0], message: { ephemeralMessage: { message: { imageMessage: mediaMessage(baileys) } } } } },
        { id: 'own-id', message: { documentWithCaptionMessage: { message: { documentMessage: mediaMessage(bare) } } } },
        { message: { event: 'messages.upsert', data: { key: keys[1], message: { videoMessage: mediaMessage(evolution, { gifPlayback: true }) } } } },
        { id: 'reference', contentType: 'audio', content: { directPath: reference.directPath, mediaKey: reference.mediaKey } },
        { message: { imageMessage: mediaMessage(baileys) } },
        { message: { key: keys[2], message: { protocolMessage: { type: 0 } } } },
        { message: { key: keys[0], message: { imageMessage: mediaMessage(baileys) } } },
      ];
      const accepted = (await submit(items)).json<BatchStatus>();
      expect(accepted.items.map((item) => [item.id, item.status])).toEqual([
        [keys[0]!.id, 'pending'],
        ['own-id', 'pending'],
        [keys[1]!.id, 'pending'],
        ['reference', 'pending'],
        ['#4', 'invalid'],
        [keys[2]!.id, 'invalid'],
        ['#6', 'invalid'],
      ]);
      const [, , , , noId, noMedia, duplicate] = accepted.items;
      expect(noId!.error!.message).toEqual(["id: is required: the item's own, or its message's key.id"]);
      expect(noMedia!.error!.message).toEqual([expect.stringMatching(/^message\.message: no media: .*found fields "protocolMessage"$/)]);
      expect(duplicate!.error!.message).toEqual([`id: "${keys[0]!.id}" is used by an earlier item`]);

      const done = await waitUntilDone(accepted.batchId);
      expect(done.counts).toEqual({ pending: 0, completed: 4, failed: 0, invalid: 3 });
      const byId = new Map(done.items.map((item) => [item.id, item]));
      expect(byId.get(keys[0]!.id)).toMatchObject({ contentType: 'image', result: { sha256: baileys.sha256 } });
      expect(byId.get('own-id')).toMatchObject({ contentType: 'document', result: { sha256: bare.sha256 } });
      expect(byId.get(keys[1]!.id)).toMatchObject({ contentType: 'gif', result: { sha256: evolution.sha256 } });
      expect(byId.get('reference')).toMatchObject({ contentType: 'audio', result: { sha256: reference.sha256 } });
      expectBytes(await suite.api.get(byId.get(keys[1]!.id)!.contentUrl!, INSTANCE), evolution.sha256, 6_000);
      expect((await jobData(evolution)).messageKey).toEqual(keys[1]);
    });
  });
});
