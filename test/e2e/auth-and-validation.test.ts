/**
 * Requests refused before any work: every way a token can fail (401/403), and bodies or
 * queries that do not validate (400), all in the error shape of the contract.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { downloadBody, type CallOptions } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import { type PublishedMedia } from '../support/fake-cdn.js';

const INSTANCE = 'instance-a';
const MAX_WAIT_MS = 30_000;

/** A media the CDN really serves: a request that gets through everything would download it. */
let media: PublishedMedia;

const suite = useCdnStack({ env: { MAX_WAIT_MS: String(MAX_WAIT_MS) } });

beforeAll(() => {
  media = suite.cdn.publish(randomBytes(2_000), 'document');
});

describe('authentication', () => {
  const cases: [string, () => CallOptions, number, RegExp][] = [
    ['no Authorization header', () => ({ token: null }), 401, /missing bearer token/],
    ['a Basic Authorization header', () => ({ authorization: 'Basic dXNlcjpwYXNz' }), 401, /missing bearer token/],
    ['a garbage token', () => ({ token: 'not-a-jwt' }), 401, /invalid/],
    ['a token signed with another secret', () => ({ token: suite.stack.token(INSTANCE, { secret: 'another-secret-of-32-characters!' }) }), 401, /invalid/],
    ['an expired token', () => ({ token: suite.stack.token(INSTANCE, { expiresInSeconds: -60 }) }), 401, /expired/],
    ['an unsigned token (alg none)', () => ({ token: suite.stack.token(INSTANCE, { alg: 'none' }) }), 401, /invalid/],
    ['a token with another HMAC algorithm (HS384)', () => ({ token: suite.stack.token(INSTANCE, { alg: 'HS384' }) }), 401, /invalid/],
    ['a token without an instanceId claim', () => ({ token: suite.stack.token(INSTANCE, { claims: { instanceId: undefined } }) }), 401, /instanceId/],
    ['a token of another instance', () => ({ token: suite.stack.token('instance-b') }), 403, /another instance/],
  ];

  it.each(cases)('refuses %s on directly-download', async (_, options, status, message) => {
    const before = suite.cdn.count();
    const response = await suite.api.download(INSTANCE, downloadBody(media), options());
    expectError(response, status, message);
    expect(suite.cdn.count()).toBe(before);
  });

  it.each(cases)('refuses %s on the job routes', async (_, options, status, message) => {
    const jobs = `/api/v2/instance/${INSTANCE}/media/jobs/dl-${'a'.repeat(64)}`;
    expectError(await suite.api.get(jobs, INSTANCE, options()), status, message);
    expectError(await suite.api.get(`${jobs}/content`, INSTANCE, options()), status, message);
  });

  it('checks the token before reading the body: a malformed or oversized body without a valid token is a 401', async () => {
    const path = `/api/v2/instance/${INSTANCE}/media/directly-download`;
    expectError(await suite.api.call('POST', path, { token: null, body: '{"not json' }), 401, /missing bearer token/);
    expectError(await suite.api.call('POST', path, { token: 'not-a-jwt', body: `"${'x'.repeat(5 * 1024 * 1024)}"` }), 401, /invalid/);
    const batches = `/api/v2/instance/${INSTANCE}/media/batch`;
    expectError(await suite.api.call('POST', batches, { token: suite.stack.token('instance-b'), body: '{"not json' }), 403, /another instance/);
  });

  it('accepts a valid token with an exp in the future', async () => {
    const response = await suite.api.download(INSTANCE, downloadBody(media), { token: suite.stack.token(INSTANCE, { expiresInSeconds: 300 }) });
    expectBytes(response, media.sha256, media.fileLength);
  });
});

describe('validation', () => {
  it('answers the seed\'s example body with 400 and a helpful message per problem', async () => {
    const before = suite.cdn.count();
    const response = await suite.api.download(INSTANCE, {
      contentType: 'document | image | video | audio | sticker',
      content: {},
    });
    const { message } = expectError(response, 400);
    // The type: what was sent, and the values that are accepted.
    expect(message).toContainEqual(expect.stringMatching(/^contentType: must be one of .*document.*image.*video.*audio.*sticker/));
    expect(message).toContainEqual(expect.stringMatching(/got "document \| image \| video \| audio \| sticker": pick one/));
    // The content: the key is missing, and so is any reference to fetch.
    expect(message).toContainEqual(expect.stringMatching(/^content\.mediaKey: is required/));
    expect(message).toContainEqual(expect.stringMatching(/^content: must have a url or a directPath/));
    expect(suite.cdn.count()).toBe(before);
  });

  it.each([
    ['invalid JSON', '{"contentType": "image", "content": {', /body: is not valid JSON/],
    ['a JSON array', '[]', /body: must be a JSON object/],
    ['a JSON string', '"image"', /body/],
  ])('answers %s with 400', async (_, body, message) => {
    expectError(await suite.api.download(INSTANCE, body), 400, message);
  });

  it('answers a body sent without a JSON Content-Type with 400', async () => {
    const response = await suite.api.call('POST', `/api/v2/instance/${INSTANCE}/media/directly-download`, {
      instanceId: INSTANCE,
      body: JSON.stringify(downloadBody(media)),
      headers: { 'content-type': 'text/plain' },
    });
    expectError(response, 400, /body: must be a JSON object/);
  });

  it.each([
    ['a mediaKey of the wrong length', { mediaKey: randomBytes(31).toString('base64') }, /^content\.mediaKey: must be 32 bytes, got 31/],
    ['a mediaKey that is not base64', { mediaKey: '***' }, /^content\.mediaKey: is not valid base64/],
    ['a fileSha256 of the wrong length', { fileSha256: randomBytes(16).toString('base64') }, /^content\.fileSha256: must be 32 bytes/],
    ['a negative fileLength', { fileLength: -1 }, /^content\.fileLength: must be a non-negative integer/],
    ['a directPath without a leading "/"', { directPath: 'v/t62/x.enc' }, /^content\.directPath: must be a path starting with "\/"/],
    ['a protocol-relative directPath', { directPath: '//evil.example/x.enc' }, /^content\.directPath: must be a path .*not "\/\/host"/],
    ['a directPath that is a URL', { directPath: 'http://evil.example/x.enc' }, /^content\.directPath: must be a path starting with "\/"/],
    ['a directPath with a backslash', { directPath: '/\\evil.example/x.enc' }, /^content\.directPath: .*no backslash/],
    ['a directPath with a backslash later on', { directPath: '/v/t62\\..\\x.enc' }, /^content\.directPath: .*no backslash/],
    ['a url that is not http(s)', { url: 'ftp://mmg.whatsapp.net/x.enc' }, /^content\.url: must be an http\(s\) URL/],
    ['a mimetype that is not type/subtype', { mimetype: 'pdf' }, /^content\.mimetype: must be a media type/],
  ])('answers %s with 400 naming the field', async (_, content, message) => {
    const response = await suite.api.download(INSTANCE, downloadBody(media, { content }));
    expectError(response, 400, message);
  });

  it.each([
    ['abc', /timeout: must be a number of milliseconds/],
    ['-1', /timeout: must be 0 or more/],
    ['1.5', /timeout: must be a whole number of milliseconds/],
    [String(MAX_WAIT_MS + 1), new RegExp(`timeout: must be at most ${MAX_WAIT_MS} ms`)],
  ])('answers timeout=%s with 400', async (timeout, message) => {
    const before = suite.cdn.count();
    expectError(await suite.api.download(INSTANCE, downloadBody(media), { timeout }), 400, message);
    expect(suite.cdn.count()).toBe(before);
  });

  it('answers an unknown job with 404', async () => {
    const jobs = `/api/v2/instance/${INSTANCE}/media/jobs`;
    expectError(await suite.api.get(`${jobs}/dl-${'0'.repeat(64)}`, INSTANCE), 404, /not found/);
    expectError(await suite.api.get(`${jobs}/not-a-job-id/content`, INSTANCE), 404, /not found/);
  });

  it('answers an unknown route with 404 in the error shape', async () => {
    expectError(await suite.api.get('/api/v2/nothing-here', INSTANCE), 404, /Cannot GET \/api\/v2\/nothing-here/);
  });
});
