import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInputLines } from './input-lines.js';

const mediaKey = Buffer.alloc(32, 7).toString('base64');
const content = { directPath: '/v/t62.7118-24/a.enc', mediaKey };
const key = { remoteJid: '5511999999999@s.whatsapp.net', fromMe: false, id: 'KEY1' };

describe('readInputLines', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wamedia-input-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function read(...lines: string[]) {
    const file = path.join(dir, `input-${Math.random()}.jsonl`);
    await writeFile(file, lines.join('\r\n'));
    return readInputLines(file);
  }

  it('gives each item its id (its own, key.id, else the line number) and skips blank lines', async () => {
    const lines = await read(
      JSON.stringify({ id: 'own', contentType: 'image', content }),
      '',
      JSON.stringify({ key, message: { imageMessage: { ...content, caption: 'hi', jpegThumbnail: 'AAAA' } } }),
      JSON.stringify({ contentType: 'document', content }),
    );
    expect(lines).toEqual([
      { kind: 'item', line: 1, item: { id: 'own', contentType: 'image', content } },
      // A message is kept (and sent) as the request it comes to: parsed, without its thumbnail and caption.
      { kind: 'item', line: 3, item: { id: 'KEY1', contentType: 'image', content: { ...content, mediaKey: Buffer.from(mediaKey, 'base64'), messageKey: key } } },
      { kind: 'item', line: 4, item: { id: '4', contentType: 'document', content } },
    ]);
  });

  it('reports bad lines with the API schema messages, and an id used twice on its second line', async () => {
    const lines = await read(
      '{not json',
      JSON.stringify({ id: 'x', contentType: 'image', content: { directPath: '/a' } }),
      JSON.stringify({ id: 'dup', contentType: 'selfie', content }),
      JSON.stringify({ id: 'ok', contentType: 'audio', content }),
      JSON.stringify({ id: 'ok', contentType: 'audio', content }),
      JSON.stringify({ id: '../escape', contentType: 'audio', content }),
      JSON.stringify({ message: { conversation: 'hi' } }),
      JSON.stringify({ key, message: { ephemeralMessage: { message: { imageMessage: { directPath: '/a', mediaKey: 'AAAA' } } } } }),
      JSON.stringify({ imageMessage: { mediaKey } }),
      `{"message":{"imageMessage":{"mediaKey":${'['.repeat(5_000)}${']'.repeat(5_000)}}}}`,
    );
    expect(lines).toEqual([
      { kind: 'invalid', line: 1, id: '1', messages: [expect.stringMatching(/^not valid JSON/)] },
      { kind: 'invalid', line: 2, id: 'x', messages: ['content.mediaKey: is required; media without one (channel media, not encrypted) needs a fileSha256 instead'] },
      { kind: 'invalid', line: 3, id: 'dup', messages: [expect.stringMatching(/^contentType: must be one of/)] },
      { kind: 'item', line: 4, item: { id: 'ok', contentType: 'audio', content } },
      { kind: 'invalid', line: 5, id: 'ok', messages: ['id: "ok" is already used on line 4'] },
      { kind: 'invalid', line: 6, id: '../escape', messages: [expect.stringMatching(/^id: must be 1-128/)] },
      { kind: 'invalid', line: 7, id: '7', messages: [expect.stringMatching(/^message: no media: .*found fields "conversation"$/)] },
      // A message's problems are named where they are in the line.
      { kind: 'invalid', line: 8, id: 'KEY1', messages: ['message.ephemeralMessage.message.imageMessage.mediaKey: must be 32 bytes, got 3'] },
      { kind: 'invalid', line: 9, id: '9', messages: ['imageMessage: must have a url or a directPath'] },
      { kind: 'invalid', line: 10, id: '10', messages: ['nested deeper than 32 levels'] },
    ]);
  });
});
