import { describe, expect, it } from 'vitest';
import { mediaReference } from './media-reference.js';

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

describe('mediaReference', () => {
  it('takes the body of the single endpoint as it is, with its id', () => {
    const body = { id: 'a1', contentType: 'document', content: { directPath: '/x', mediaKey: 'k' } };
    expect(mediaReference(body)).toEqual(body);
    expect(mediaReference({ contentType: 'image', content: {} })).toEqual({ id: undefined, contentType: 'image', content: {} });
  });

  it('reads a Baileys message: key.id and the media fields, leaving the rest out', () => {
    const message = { key: { remoteJid: '1@s.whatsapp.net', fromMe: false, id: '3EB0C767D82B0A4F' }, message: { imageMessage: { ...fields, ...noise } }, messageTimestamp: 1 };
    expect(mediaReference(message)).toEqual({ id: '3EB0C767D82B0A4F', contentType: 'image', content: fields });
  });

  it('unwraps the data of an Evolution API webhook', () => {
    const webhook = {
      event: 'messages.upsert',
      instance: 'shop',
      data: { key: { id: 'EVO1' }, pushName: 'x', message: { audioMessage: { ...fields, mimetype: 'audio/ogg; codecs=opus', ptt: true } }, messageType: 'audioMessage' },
    };
    expect(mediaReference(webhook)).toMatchObject({ id: 'EVO1', contentType: 'ptt', content: { mimetype: 'audio/ogg; codecs=opus' } });
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
    expect(mediaReference({ key: { id: 'k' }, message })).toEqual({ id: 'k', contentType, content: fields });
    // Bare, without key and message.
    expect(mediaReference(message)).toEqual({ id: undefined, contentType, content: fields });
  });

  it('drops null fields (protobuf JSON writes absent ones so)', () => {
    expect(mediaReference({ message: { imageMessage: { ...fields, url: null, mimetype: null } } })).toMatchObject({
      content: { directPath: fields.directPath, mediaKey: fields.mediaKey },
    });
    const { content } = mediaReference({ message: { imageMessage: { ...fields, url: null } } }) as { content: object };
    expect(content).not.toHaveProperty('url');
  });

  it('says why a line names no media', () => {
    expect(mediaReference([1, 2])).toEqual({ problem: 'must be a JSON object' });
    expect(mediaReference('text')).toEqual({ problem: 'must be a JSON object' });
    expect(mediaReference({ key: { id: 'x' }, message: { conversation: 'hello' } })).toEqual({
      problem: expect.stringMatching(/^no media: .*imageMessage.*\(got fields conversation\)$/),
    });
    expect(mediaReference({})).toEqual({ problem: expect.stringMatching(/got an empty object/) });
  });
});
