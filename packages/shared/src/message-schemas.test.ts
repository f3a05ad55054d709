import { describe, expect, it } from 'vitest';
import { batchItemBodySchema, claimedItemId, downloadBodySchema } from './message-schemas.js';
import { describeIssues } from './schemas.js';

const mediaKey = Buffer.alloc(32, 7);
const media = { directPath: '/v/t62.7118-24/a.enc', mediaKey: mediaKey.toString('base64'), mimetype: 'image/jpeg', caption: 'hi' };
const key = { remoteJid: '5511999999999@s.whatsapp.net', fromMe: false, id: '3EB0C767D82B0A4F' };

/** The 400 messages of a body, or the parsed request. */
function problems(schema: typeof downloadBodySchema | typeof batchItemBodySchema, body: unknown): string[] {
  const parsed = schema.safeParse(body);
  if (parsed.success) throw new Error(`expected problems, parsed ${JSON.stringify(parsed.data)}`);
  return describeIssues(parsed.error);
}

describe('downloadBodySchema', () => {
  it('reads a reference as before', () => {
    const parsed = downloadBodySchema.parse({ contentType: 'image', content: { directPath: media.directPath, mediaKey: media.mediaKey } });
    expect(parsed).toMatchObject({ contentType: 'image', content: { directPath: media.directPath, mediaKey } });
  });

  it('reads a message into the request it comes to: its media fields, parsed, and its key', () => {
    const parsed = downloadBodySchema.parse({ message: { key, message: { imageMessage: media } }, callbackUrl: 'https://hooks.example.com/x' });
    expect(parsed).toEqual({
      contentType: 'image',
      content: { directPath: media.directPath, mediaKey, mimetype: 'image/jpeg', messageKey: key },
      callbackUrl: 'https://hooks.example.com/x',
    });
  });

  it('names a problem with a field where the field is in the message', () => {
    const webhook = (imageMessage: object, k: object = key) => ({ message: { event: 'messages.upsert', data: { key: k, message: { ephemeralMessage: { message: { imageMessage } } } } } });
    const where = 'message.data.message.ephemeralMessage.message.imageMessage';
    expect(problems(downloadBodySchema, webhook({ ...media, mediaKey: 'AAAA' }))).toEqual([`${where}.mediaKey: must be 32 bytes, got 3`]);
    expect(problems(downloadBodySchema, webhook({ mediaKey: media.mediaKey }))).toEqual([`${where}: must have a url or a directPath`]);
    expect(problems(downloadBodySchema, webhook(media, { ...key, fromMe: 'no' }))).toEqual([expect.stringMatching(/^message\.data\.key\.fromMe: /)]);
    expect(problems(downloadBodySchema, webhook(media, { ...key, id: 7 }))).toEqual([expect.stringMatching(/^message\.data\.key\.id: /)]);
    expect(problems(downloadBodySchema, { message: { key: 7, message: { imageMessage: media } } })).toEqual([
      'message.key: must be an object {id, remoteJid, fromMe, participant?}',
    ]);
  });

  it('answers a message without media with the fields it found', () => {
    expect(problems(downloadBodySchema, { message: { key, message: { conversation: 'hello' } } })).toEqual([
      expect.stringMatching(/^message\.message: no media: expected one of imageMessage, .*; found fields "conversation"$/),
    ]);
  });

  it('refuses wrappers nested too deep, naming where', () => {
    let message: object = { imageMessage: media };
    for (let i = 0; i < 5; i++) message = { viewOnceMessage: { message } };
    expect(problems(downloadBodySchema, { message })).toEqual([
      expect.stringMatching(/^message(\.viewOnceMessage\.message){5}: wrappers nested more than 4 deep/),
    ]);
  });

  it.each([null, [], 'text', 12, true])('refuses a message that is not an object (%j)', (message) => {
    expect(problems(downloadBodySchema, { message })).toEqual(['message: must be a WhatsApp message (a JSON object)']);
  });

  it('refuses a body with both forms rather than guess', () => {
    expect(problems(downloadBodySchema, { message: { imageMessage: media }, contentType: 'image' })).toEqual([
      'message: send either a message, or contentType and content, not both',
    ]);
  });

  it('keeps the problems of a reference as they were', () => {
    expect(problems(downloadBodySchema, [])).toEqual(['body: must be a JSON object']);
    expect(problems(downloadBodySchema, { contentType: 'image', content: { directPath: '/x' } })).toEqual([
      expect.stringMatching(/^content\.mediaKey: is required/),
    ]);
  });
});

describe('batchItemBodySchema', () => {
  const message = { key, message: { imageMessage: media } };

  it("takes a message item's id from its own, else from key.id", () => {
    expect(batchItemBodySchema.parse({ message })).toMatchObject({ id: key.id, contentType: 'image', content: { messageKey: key } });
    expect(batchItemBodySchema.parse({ id: 'mine', message })).toMatchObject({ id: 'mine' });
  });

  it('refuses a message item with no id to go by, or a key.id that cannot be one', () => {
    expect(problems(batchItemBodySchema, { message: { imageMessage: media } })).toEqual([
      "id: is required: the item's own, or its message's key.id",
    ]);
    expect(problems(batchItemBodySchema, { message: { ...message, key: { ...key, id: '../x' } } })).toEqual([
      expect.stringMatching(/^id: the message's key\.id must be 1-128 of .*: give the item an id of its own$/),
    ]);
    expect(problems(batchItemBodySchema, { id: '../x', message })).toEqual([expect.stringMatching(/^id: must be 1-128/)]);
  });

  it('reads a reference item as before', () => {
    expect(batchItemBodySchema.parse({ id: 'a', contentType: 'document', content: { url: 'https://mmg.whatsapp.net/x', mediaKey: media.mediaKey } })).toMatchObject({
      id: 'a',
      contentType: 'document',
    });
  });
});

describe('claimedItemId', () => {
  it("is an item's own id, else its message's key.id, unvalidated", () => {
    expect(claimedItemId({ id: 'a', contentType: 'image' })).toBe('a');
    expect(claimedItemId({ message: { key, message: {} } })).toBe(key.id);
    expect(claimedItemId({ id: 7, message: { key } })).toBe(7);
    expect(claimedItemId(null)).toBeUndefined();
    expect(claimedItemId('x')).toBeUndefined();
  });
});
