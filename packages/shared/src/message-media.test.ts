import { describe, expect, it } from 'vitest';
import { MAX_WRAPPER_DEPTH, messageKeyId, messageMedia } from './message-media.js';

const fields = {
  url: 'https://mmg.whatsapp.net/o1/v/t62.7118-24/f1.enc?oe=1',
  directPath: '/v/t62.7118-24/f1.enc?oe=1',
  mediaKey: 'CMNQz9kNUjZH3rdBlnpjbpX8XBnd9eUXBJ3tc7sbWgE=',
  mimetype: 'image/jpeg',
  fileSha256: { type: 'Buffer', data: [1, 2, 3] },
  fileEncSha256: { 0: 4, 1: 5 },
  fileLength: { low: 54211, high: 0, unsigned: true },
};
const noise = { caption: 'hi', jpegThumbnail: 'AAAA', height: 10, width: 20, contextInfo: null, mediaKeyTimestamp: '1' };
const key = { remoteJid: '5511999999999@s.whatsapp.net', fromMe: false, id: '3EB0C767D82B0A4F' };

describe('messageMedia', () => {
  it('reads a Baileys WebMessageInfo: the media fields, the key as messageKey, and where they are', () => {
    const message = { key, message: { imageMessage: { ...fields, ...noise } }, messageTimestamp: 1 };
    expect(messageMedia(message)).toEqual({
      id: key.id,
      contentType: 'image',
      content: { ...fields, messageKey: key },
      paths: { media: ['message', 'imageMessage'], key: ['key'] },
    });
  });

  it('unwraps the data of an Evolution API webhook', () => {
    const webhook = {
      event: 'messages.upsert',
      instance: 'shop',
      data: {
        key: { ...key, id: 'EVO1', participant: '5511888888888@s.whatsapp.net' },
        pushName: 'x',
        message: { audioMessage: { ...fields, mimetype: 'audio/ogg; codecs=opus', ptt: true } },
        messageType: 'audioMessage',
      },
    };
    expect(messageMedia(webhook)).toMatchObject({
      id: 'EVO1',
      contentType: 'ptt',
      content: { mimetype: 'audio/ogg; codecs=opus', messageKey: { ...key, id: 'EVO1', participant: '5511888888888@s.whatsapp.net' } },
      paths: { media: ['data', 'message', 'audioMessage'], key: ['data', 'key'] },
    });
  });

  it.each([
    [{ imageMessage: fields }, 'image'],
    [{ videoMessage: fields }, 'video'],
    [{ videoMessage: { ...fields, gifPlayback: true } }, 'gif'],
    [{ videoMessage: { ...fields, gifPlayback: false } }, 'video'],
    [{ audioMessage: { ...fields, ptt: false } }, 'audio'],
    [{ audioMessage: { ...fields, ptt: true } }, 'ptt'],
    [{ documentMessage: fields }, 'document'],
    [{ stickerMessage: fields }, 'sticker'],
    [{ ptvMessage: fields }, 'ptv'],
    [{ documentWithCaptionMessage: { message: { documentMessage: fields } } }, 'document'],
    [{ ephemeralMessage: { message: { imageMessage: fields } } }, 'image'],
    [{ viewOnceMessage: { message: { videoMessage: fields } } }, 'video'],
    [{ viewOnceMessageV2: { message: { imageMessage: fields } } }, 'image'],
    [{ viewOnceMessageV2Extension: { message: { audioMessage: { ...fields, ptt: true } } } }, 'ptt'],
    [{ ephemeralMessage: { message: { viewOnceMessageV2: { message: { imageMessage: fields } } } } }, 'image'],
  ])('recognizes %j as %s', (message, contentType) => {
    expect(messageMedia({ key, message })).toMatchObject({ id: key.id, contentType, content: { ...fields, messageKey: key } });
    // Bare, without key and message: no messageKey.
    expect(messageMedia(message)).toMatchObject({ id: undefined, contentType, content: fields });
    expect((messageMedia(message) as { content: object }).content).not.toHaveProperty('messageKey');
  });

  it(`looks through ${MAX_WRAPPER_DEPTH} wrappers, and names where a deeper one is`, () => {
    const wrap = (depth: number): Record<string, unknown> =>
      depth === 0 ? { imageMessage: fields } : { ephemeralMessage: { message: wrap(depth - 1) } };
    expect(messageMedia({ message: wrap(MAX_WRAPPER_DEPTH) })).toMatchObject({ contentType: 'image', content: fields });
    const tooDeep = messageMedia({ key, message: wrap(MAX_WRAPPER_DEPTH + 1) });
    expect(tooDeep).toEqual({
      id: key.id,
      problem: expect.stringMatching(new RegExp(`^wrappers nested more than ${MAX_WRAPPER_DEPTH} deep`)),
      path: ['message', ...Array.from({ length: MAX_WRAPPER_DEPTH + 1 }, () => ['ephemeralMessage', 'message']).flat()],
    });
  });

  it('reads channel media, which has no mediaKey, as it is', () => {
    const { mediaKey: _none, fileEncSha256: _also, ...channel } = fields;
    expect(messageMedia({ message: { imageMessage: channel } })).toMatchObject({ contentType: 'image', content: channel });
  });

  it('drops null fields (protobuf JSON writes absent ones so)', () => {
    expect(messageMedia({ message: { imageMessage: { ...fields, url: null, mimetype: null } } })).toMatchObject({
      content: { directPath: fields.directPath, mediaKey: fields.mediaKey },
    });
    const { content } = messageMedia({ key: { ...key, participant: null }, message: { imageMessage: { ...fields, url: null } } }) as { content: Record<string, object> };
    expect(content).not.toHaveProperty('url');
    expect(content.messageKey).toEqual(key);
    const empty = messageMedia({ key: { ...key, participant: '' }, message: { imageMessage: fields } }) as { content: Record<string, object> };
    expect(empty.content.messageKey).toEqual(key);
  });

  it('carries a key that is not an object as it is, for the schema to refuse', () => {
    expect(messageMedia({ key: 'k', message: { imageMessage: fields } })).toMatchObject({ id: undefined, content: { messageKey: 'k' } });
  });

  it('leaves behind a key that names no chat (an id only): its id is still the id', () => {
    const found = messageMedia({ key: { id: 'only-id', remoteJid: null }, message: { imageMessage: fields } }) as { id: unknown; content: object };
    expect(found.id).toBe('only-id');
    expect(found.content).not.toHaveProperty('messageKey');
  });

  it('reads own fields only: nothing from a prototype', () => {
    const hostile = JSON.parse('{"message": {"__proto__": {"imageMessage": {"mediaKey": "x"}}, "constructor": {"message": {}}}}');
    expect(messageMedia(hostile)).toMatchObject({ problem: expect.stringMatching(/^no media/) });
  });

  it('says why a message names no media, and which fields it found', () => {
    expect(messageMedia([1, 2])).toEqual({ id: undefined, problem: 'must be a WhatsApp message (a JSON object)', path: [] });
    expect(messageMedia('text')).toMatchObject({ problem: 'must be a WhatsApp message (a JSON object)' });
    expect(messageMedia({ key, message: { conversation: 'hello', messageContextInfo: {} } })).toEqual({
      id: key.id,
      problem: expect.stringMatching(/^no media: expected one of imageMessage, .*; found fields "conversation", "messageContextInfo"$/),
      path: ['message'],
    });
    expect(messageMedia({})).toMatchObject({ problem: expect.stringMatching(/found no fields$/), path: [] });
    expect(messageMedia({ data: { key, message: { imageMessage: 'not an object' } } })).toMatchObject({ path: ['data', 'message'] });
  });

  it('lists a bounded number of found fields, each cut short', () => {
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`${'f'.repeat(100)}${i}`, i]));
    const { problem } = messageMedia(many) as { problem: string };
    expect(problem.length).toBeLessThan(800);
    expect(problem).toMatch(/\.\.\.", .*, \.\.\.$/);
  });
});

describe('messageKeyId', () => {
  it('reads key.id from every shape, or nothing', () => {
    expect(messageKeyId({ key, message: {} })).toBe(key.id);
    expect(messageKeyId({ event: 'messages.upsert', data: { key: { id: 'EVO' } } })).toBe('EVO');
    expect(messageKeyId({ imageMessage: fields })).toBeUndefined();
    expect(messageKeyId(null)).toBeUndefined();
  });
});
