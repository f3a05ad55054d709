import { describe, expect, it } from 'vitest';
import { describeIssues, downloadRequestSchema } from './schemas.js';

const sha = Buffer.alloc(32, 1).toString('base64');
const mediaKey = Buffer.alloc(32, 2).toString('base64');

/** The 400 messages of a reference body. */
function problems(body: unknown): string[] {
  const parsed = downloadRequestSchema.safeParse(body);
  return parsed.success ? [] : describeIssues(parsed.error);
}

describe('downloadRequestSchema', () => {
  it('reports every problem of an empty reference at once', () => {
    expect(problems({ contentType: 'image', content: {} })).toEqual([
      'content: must have a url or a directPath',
      'content.mediaKey: is required; media without one (channel media, not encrypted) needs a fileSha256 instead',
    ]);
  });

  it('takes a reference without a mediaKey when it has a fileSha256: channel media, which is not encrypted', () => {
    const parsed = downloadRequestSchema.parse({ contentType: 'image', content: { directPath: '/m1/v/t24/x', fileSha256: sha } });
    expect(parsed.content.mediaKey).toBeUndefined();
    expect(parsed.content.fileSha256).toEqual(Buffer.alloc(32, 1));
    expect(problems({ contentType: 'image', content: { directPath: '/x', fileSha256: 'AAAA' } })).toEqual(['content.fileSha256: must be 32 bytes, got 3']);
  });

  it('carries a message key, and refuses one of another shape, naming its fields', () => {
    const messageKey = { id: 'ABC', remoteJid: '1@s.whatsapp.net', fromMe: true, participant: '2@s.whatsapp.net' };
    const content = { directPath: '/x', mediaKey };
    expect(downloadRequestSchema.parse({ contentType: 'image', content: { ...content, messageKey } }).content.messageKey).toEqual(messageKey);
    expect(problems({ contentType: 'image', content: { ...content, messageKey: { id: 'ABC', remoteJid: 1, fromMe: 'yes' } } })).toEqual([
      expect.stringMatching(/^content\.messageKey\.remoteJid: /),
      expect.stringMatching(/^content\.messageKey\.fromMe: /),
    ]);
  });
});
