/**
 * Fuzzing the HTTP API: over 10 000 requests made up by fast-check, sent to a running API (and
 * a worker, and a fake CDN), most with a valid token so they get past authentication into
 * validation and beyond. Bodies of every wrong type and size, odd unicode, prototype keys, odd
 * numbers; WhatsApp messages as input (every shape, wrappers nested past the limit, odd keys and
 * flags, channel media without a mediaKey); odd `timeout`, `response`, `ttl` and `links` queries,
 * headers, encodings, paths and methods; the batch and re-upload routes; signed links, real ones
 * changed in every way (none of which may serve the file); and requests broken at the byte level,
 * written on sockets of their own.
 *
 * Every answer must be below 500, and every error in the contract's shape; the API must still
 * serve at the end, with nothing uncaught on its stderr and its memory in bounds.
 *
 * The seed is random unless FUZZ_SEED is set, and printed: `FUZZ_SEED=<seed> pnpm test:fuzz`
 * sends the same requests again.
 */
import { randomBytes, createHmac } from 'node:crypto';
import { parse as parseQuery } from 'node:querystring';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentTypes } from '@wamedia/shared';
import { type PublishedMedia, type PublishedPlainMedia } from '../support/fake-cdn.js';
import { FuzzPool, contractViolation, mapLimited, residentSetSize, sendRaw, type FuzzResponse } from '../support/fuzz-http.js';
import {
  anyJson,
  bytesField,
  deepValue,
  encodedBytes,
  obj,
  oddKey,
  oddNumber,
  oddScalar,
  oddString,
  smallJson,
  specialKeys,
  toJsonText,
  type JsonModel,
} from '../support/fuzz-json.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { isMediaType } from '../../packages/shared/src/media/mimetype.js';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
/** FUZZ_SCALE=10 sends ten times as many requests (a longer hunt, outside CI). */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
/** Requests at once through the keep-alive pool. */
const CONCURRENCY = 32;
/** The `timeout` bound of the API under test: waits stay short, and its edges are easy to hit. */
const MAX_WAIT_MS = 1_000;
const BATCH_MAX_ITEMS = 100;
/** SIGNED_URL_TTL_SECONDS of the API under test: small, so the edges of `ttl` are easy to hit. */
const LINK_TTL_SECONDS = 600;
/** BASE64_MAX_BYTES of the API under test: between the sizes of the published media, so both answers come. */
const BASE64_MAX_BYTES = 2_000;
const INSTANCE = 'fuzz-a';
const OTHER_INSTANCE = 'fuzz-b';

// ---- What a case is -----------------------------------------------------------------------

/** How a case's Authorization header is made (tokens need the stack's secret, so they are made at send time). */
type AuthSpec =
  | { kind: 'valid' }
  | { kind: 'for'; instance: string; scheme?: string }
  | { kind: 'signed'; header: JsonModel; payload: JsonModel; secret: 'stack' | 'other' | 'none' }
  | { kind: 'literal'; value: string }
  | { kind: 'none' };

/** Body encodings: the Content-Encoding sent, and what is done to the bytes. */
type EncodingSpec = 'identity' | 'gzip' | 'deflate' | 'br' | 'garbage' | 'gzip-bomb' | 'double-gzip' | 'label-only';

interface PooledCase {
  via: 'pool';
  method: string;
  /** Request-target, percent-encoded. */
  path: string;
  /** The instance a `valid` token is made for: the route's instanceId, decoded. */
  instance: string;
  auth: AuthSpec;
  headers: [string, string][];
  body?: { json: JsonModel; contentType: string | null; encoding: EncodingSpec; encodingLabel?: string };
  /** A property of this case's answer beyond the contract's shape: a description of how it was broken. */
  check?: (response: FuzzResponse) => string | undefined;
}

interface RawCase {
  via: 'raw';
  /** The request's bytes as latin1 text (UTF-8 already spelled out as bytes); `{{token}}` is a valid token. */
  text: string;
  /**
   * False when the client does not finish the request, and half-closes after a second: a body
   * shorter than its Content-Length, or a chunked body after `Connection: Upgrade` (with no
   * 'upgrade' listener, Node hands the bytes after the head to no one: the body never ends).
   * Node may drop such a request without an answer: a client that half-closes is gone.
   */
  complete: boolean;
}

type FuzzCase = PooledCase | RawCase;

// ---- The running service ------------------------------------------------------------------

let pool: FuzzPool;
let media: PublishedMedia[];
/** Channel media: served in clear, referred to without a mediaKey. */
let channelMedia: PublishedPlainMedia[];
/** A link the API signed for media[0] (`response=url`): the link cases change it. */
let signedLink: string;
/** Jobs and batches the API reported, so later cases can ask for real ones. */
const knownJobs: string[] = [];
const knownBatches: { batchId: string; itemIds: string[] }[] = [];
const statusCounts = new Map<number | string, number>();
let requestsSent = 0;
const rss: { when: string; bytes: number | undefined }[] = [];
const startedAt = Date.now();

const suite = useCdnStack({
  env: (cdn) => ({
    MAX_WAIT_MS: String(MAX_WAIT_MS),
    BATCH_MAX_ITEMS: String(BATCH_MAX_ITEMS),
    // Per-instance limits off: the fuzzer is one very busy tenant, and a 429 would end its cases early.
    INSTANCE_REQUESTS_PER_MINUTE: '0',
    INSTANCE_MAX_JOBS_IN_FLIGHT: '0',
    // Callbacks on, to the fake CDN only (it answers 404): the callback paths get fuzzed, nothing leaves the host.
    WEBHOOK_SECRET: randomBytes(24).toString('base64url'),
    WEBHOOK_ALLOWED_HOSTS: cdn.origin,
    WEBHOOK_ATTEMPTS: '1',
    WEBHOOK_TIMEOUT_MS: '1000',
    JOB_ATTEMPTS: '1',
    // Media that expired with a message key wait this long for a re-upload answer, then fail.
    REUPLOAD_WAIT_MS: '3000',
    SIGNED_URL_TTL_SECONDS: String(LINK_TTL_SECONDS),
    BASE64_MAX_BYTES: String(BASE64_MAX_BYTES),
  }),
});

beforeAll(async () => {
  console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} pnpm test:fuzz to replay)`);
  pool = new FuzzPool(suite.stack.baseUrl, CONCURRENCY);
  media = [
    suite.cdn.publish(randomBytes(3_000), 'document'),
    suite.cdn.publish(randomBytes(1_000), 'image'),
    suite.cdn.publish(randomBytes(20_000), 'audio'),
    suite.cdn.publish(Buffer.alloc(0), 'video'),
  ];
  // The first media's file again, from a channel: the same bytes in the other cache namespace.
  channelMedia = [suite.cdn.publishPlain(media[0]!.plaintext, 'document'), suite.cdn.publishPlain(randomBytes(2_000), 'image')];
  signedLink = await linkTo(media[0]!);
  rss.push({ when: 'after start', bytes: await residentSetSize(suite.stack.api.pid!) });
}, 120_000);

/** The path and query of the link the API answers for `published` (downloading it first). */
async function linkTo(published: PublishedMedia): Promise<string> {
  const body = Buffer.from(JSON.stringify({ contentType: published.contentType, content: { directPath: published.directPath, mediaKey: published.mediaKey } }));
  for (let attempt = 0; attempt < 10; attempt++) {
    const answer = await pool.send({
      method: 'POST',
      path: `/api/v2/instance/${INSTANCE}/media/directly-download?timeout=${MAX_WAIT_MS}&response=url`,
      headers: { authorization: `Bearer ${suite.stack.token(INSTANCE)}`, 'content-type': 'application/json' },
      body,
    });
    if (answer.status === 200) {
      const url = new URL((JSON.parse(answer.body.toString()) as { url: string }).url);
      return url.pathname + url.search;
    }
    if (answer.status !== 202) throw new Error(`no link: HTTP ${answer.status} ${answer.body.toString().slice(0, 300)}`);
  }
  throw new Error('no link: the download did not finish');
}

afterAll(async () => {
  await pool?.close();
});

// ---- Sending ------------------------------------------------------------------------------

/** A JWT with a header and payload of any JSON text, HS256-signed (or not signed at all). */
function signedToken(header: JsonModel, payload: JsonModel, secret: 'stack' | 'other' | 'none'): string {
  const input = `${Buffer.from(toJsonText(header)).toString('base64url')}.${Buffer.from(toJsonText(payload)).toString('base64url')}`;
  if (secret === 'none') return `${input}.`;
  const key = secret === 'stack' ? suite.stack.jwtSecret : 'another-secret-of-32-characters!';
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

function authorization(auth: AuthSpec, instance: string): string | undefined {
  switch (auth.kind) {
    case 'valid':
      return `Bearer ${suite.stack.token(instance)}`;
    case 'for':
      return `${auth.scheme ?? 'Bearer'} ${suite.stack.token(auth.instance)}`;
    case 'signed':
      return `Bearer ${signedToken(auth.header, auth.payload, auth.secret)}`;
    case 'literal':
      return auth.value;
    case 'none':
      return undefined;
  }
}

function encodeBody(body: NonNullable<PooledCase['body']>): { bytes: Buffer; label?: string } {
  const plain = Buffer.from(toJsonText(body.json), 'utf8');
  switch (body.encoding) {
    case 'identity':
      return { bytes: plain, label: body.encodingLabel };
    case 'gzip':
      return { bytes: gzipSync(plain), label: body.encodingLabel ?? 'gzip' };
    case 'deflate':
      return { bytes: deflateSync(plain), label: body.encodingLabel ?? 'deflate' };
    case 'br':
      return { bytes: brotliCompressSync(plain), label: body.encodingLabel ?? 'br' };
    case 'double-gzip':
      return { bytes: gzipSync(gzipSync(plain)), label: body.encodingLabel ?? 'gzip, gzip' };
    case 'garbage':
      return { bytes: plain, label: body.encodingLabel ?? 'gzip' };
    case 'gzip-bomb':
      // 64 MiB of spaces inside a JSON string: a few dozen KiB on the wire.
      return { bytes: gzipBomb(), label: 'gzip' };
    case 'label-only':
      return { bytes: plain, label: body.encodingLabel ?? 'identity' };
  }
}

let bomb: Buffer | undefined;
function gzipBomb(): Buffer {
  bomb ??= gzipSync(Buffer.concat([Buffer.from('{"contentType":"'), Buffer.alloc(64 * 1024 * 1024, 0x20), Buffer.from('"}')]), { level: 9 });
  return bomb;
}

/** Sends one case; resolves with the answer, or a description of how the exchange failed. */
async function send(fuzzCase: FuzzCase): Promise<{ response?: FuzzResponse; failure?: string; method: string }> {
  if (fuzzCase.via === 'raw') {
    const text = fuzzCase.text.replaceAll('{{token}}', suite.stack.token(INSTANCE));
    const method = /^[A-Z]+/.exec(text)?.[0] ?? '';
    try {
      const response = await sendRaw('127.0.0.1', Number(new URL(suite.stack.baseUrl).port), Buffer.from(text, 'latin1'));
      if (response || !fuzzCase.complete) return { response, method };
      return { failure: 'the connection closed without an answer', method };
    } catch (error) {
      return { failure: `raw exchange failed: ${(error as Error).message}`, method };
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of fuzzCase.headers) headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  const auth = authorization(fuzzCase.auth, fuzzCase.instance);
  if (auth !== undefined) headers.authorization = auth;
  let body: Buffer | undefined;
  if (fuzzCase.body) {
    const encoded = encodeBody(fuzzCase.body);
    body = encoded.bytes;
    if (fuzzCase.body.contentType !== null) headers['content-type'] = fuzzCase.body.contentType;
    if (encoded.label !== undefined) headers['content-encoding'] = encoded.label;
  }
  try {
    const response = await pool.send({ method: fuzzCase.method, path: fuzzCase.path, headers, body });
    return { response, method: fuzzCase.method };
  } catch (error) {
    return { failure: `request failed on the client side: ${(error as Error).message}`, method: fuzzCase.method };
  }
}

/** The `index`-th known job (modulo), or a well-formed id of no job. */
function knownJob(index: number): string {
  return knownJobs[index % Math.max(knownJobs.length, 1)] ?? `dl-${'0'.repeat(64)}`;
}

/** The `index`-th known batch (modulo), or a well-formed id of no batch. */
function knownBatch(index: number): { batchId: string; itemIds: string[] } {
  return knownBatches[index % Math.max(knownBatches.length, 1)] ?? { batchId: '00000000-0000-0000-0000-000000000000', itemIds: ['a'] };
}

/** Remembers job and batch ids from answers, so later cases can ask for them. */
function learn(response: FuzzResponse): void {
  if (response.status !== 202 || !/json/.test(response.headers['content-type'] ?? '')) return;
  try {
    const body = JSON.parse(response.body.toString('utf8')) as { jobId?: unknown; batchId?: unknown; items?: { id?: unknown; jobId?: unknown }[] };
    if (typeof body.jobId === 'string' && knownJobs.length < 500) knownJobs.push(body.jobId);
    if (typeof body.batchId === 'string' && knownBatches.length < 200) {
      const items = Array.isArray(body.items) ? body.items : [];
      knownBatches.push({ batchId: body.batchId, itemIds: items.map((item) => String(item.id)) });
      for (const item of items) if (typeof item.jobId === 'string' && knownJobs.length < 500) knownJobs.push(item.jobId);
    }
  } catch {
    // Not JSON after all: the contract check reports it.
  }
}

/** A case and its answer, in a few lines. */
function describeCase(fuzzCase: FuzzCase, outcome: string): string {
  if (fuzzCase.via === 'raw') return `raw ${JSON.stringify(fuzzCase.text.slice(0, 600))}\n  → ${outcome}`;
  const body = fuzzCase.body
    ? ` body(${fuzzCase.body.contentType}, ${fuzzCase.body.encoding}${fuzzCase.body.encodingLabel ? ` "${fuzzCase.body.encodingLabel}"` : ''}): ${JSON.stringify(fuzzCase.body.json).slice(0, 600)}`
    : '';
  return `${fuzzCase.method} ${fuzzCase.path.slice(0, 300)} auth=${JSON.stringify(fuzzCase.auth).slice(0, 200)} headers=${JSON.stringify(fuzzCase.headers).slice(0, 300)}${body}\n  → ${outcome}`;
}

/** Sends `cases`, CONCURRENCY at once; resolves with a description of every contract violation. */
async function runCases(cases: FuzzCase[]): Promise<string[]> {
  const results = await mapLimited(cases, CONCURRENCY, async (fuzzCase) => {
    const { response, failure, method } = await send(fuzzCase);
    requestsSent++;
    const key = response?.status ?? 'no answer';
    statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1);
    if (!response) return failure && describeCase(fuzzCase, failure);
    learn(response);
    const violation =
      contractViolation(method, response) ?? mediaTypeViolation(response) ?? (fuzzCase.via === 'pool' ? fuzzCase.check?.(response) : undefined);
    return violation && describeCase(fuzzCase, `${violation}: ${response.body.toString('utf8').slice(0, 400)}`);
  });
  return results.filter((r): r is string => r !== undefined);
}

/**
 * A media answer (the file, or a range of it) labelled with anything but a media type as RFC 9110
 * writes it: a requester's mimetype, from a reference or a message, is checked before it is used.
 */
function mediaTypeViolation(response: FuzzResponse): string | undefined {
  if ((response.status !== 200 && response.status !== 206) || !response.headers['content-disposition']) return undefined;
  const type = response.headers['content-type'];
  return typeof type === 'string' && isMediaType(type) ? undefined : `a media answer with Content-Type ${JSON.stringify(type)}`;
}

/**
 * Checks the property "every answer to a batch of `batchSize` cases keeps the contract" over
 * `runs` batches (so runs × batchSize requests), with the suite's seed. On failure, the error
 * names the seed and the failing requests with their answers.
 */
async function fuzz(name: string, cases: fc.Arbitrary<FuzzCase>, runs: number, batchSize: number): Promise<void> {
  let violations: string[] = [];
  const details = await fc.check(
    fc.asyncProperty(fc.array(cases, { minLength: batchSize, maxLength: batchSize }), async (batch) => {
      violations = await runCases(batch);
      return violations.length === 0;
    }),
    // The failing requests are reported one by one below, so no shrinking is needed to find them.
    { seed: SEED, numRuns: Math.ceil(runs * SCALE), endOnFailure: true },
  );
  rss.push({ when: `after ${name}`, bytes: await residentSetSize(suite.stack.api.pid!) });
  if (details.failed) {
    const cause = details.errorInstance ? `\n${String(details.errorInstance)}` : '';
    throw new Error(
      `${name}: ${violations.length} answer(s) broke the contract in batch ${details.numRuns} ` +
        `(fast-check seed ${details.seed}, path "${details.counterexamplePath}"; replay with FUZZ_SEED=${SEED} pnpm test:fuzz)${cause}\n` +
        violations.slice(0, 10).join('\n'),
    );
  }
}

// ---- Generators ---------------------------------------------------------------------------

/** Percent-encodes the UTF-8 of `text`, all but the unreserved characters (lone surrogates become U+FFFD). */
function pct(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** What the API's router makes of a path segment; the segment itself when it cannot be decoded. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const validContentType = fc.constantFrom(...contentTypes);

/** The contentType field: valid, near-valid, or anything. */
const contentTypeField: fc.Arbitrary<JsonModel> = fc.oneof(
  { weight: 6, arbitrary: validContentType },
  { weight: 1, arbitrary: validContentType.map((t) => t.toUpperCase()) },
  { weight: 1, arbitrary: validContentType.map((t) => `${t}\u200b`) },
  { weight: 1, arbitrary: fc.constantFrom('Image', 'image ', ' image', 'imagе' /* Cyrillic е */, '', '__proto__', 'constructor', 'toString') },
  { weight: 2, arbitrary: anyJson },
);

function cdnUrl(path: string): string {
  return `${suite.cdn.origin}${path}`;
}

/** The url field: an allowed CDN url (for nothing there), disallowed and malformed ones, or anything. */
const urlField: fc.Arbitrary<JsonModel> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 30 }).map((s) => cdnUrl(`/v/t62.7118-24/${pct(s)}.enc?oh=x&oe=ff`)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'https://mmg.whatsapp.net/v/t62/x.enc', 'http://127.0.0.1:1/x', 'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/x', 'http://0x7f000001/', 'http://localhost/x', 'file:///etc/passwd', 'javascript:alert(1)',
      'ftp://mmg.whatsapp.net/x', 'https://mmg.whatsapp.net@evil.example/x', 'https://evil.example#@mmg.whatsapp.net',
      'https://xn--mmg-whatsapp.net/x', 'https://mmg.whatsapp.net:99999/x', 'https:///x', 'https://', '//mmg.whatsapp.net/x',
      'https://mmg.whatsapp.net/\u0000', 'https://mmg.whatsapp.net/%zz', `http://[${'f'.repeat(40)}]/`,
    ),
  },
  { weight: 1, arbitrary: oddString.map((s) => `https://${s}/x`) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 10_000 }).map((n) => `https://mmg.whatsapp.net/${'a'.repeat(n)}`) },
  { weight: 2, arbitrary: anyJson },
);

/** The directPath field: a path on the CDN (nothing there), near-paths, or anything. */
const directPathField: fc.Arbitrary<JsonModel> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 30 }).map((s) => `/v/t62.7118-24/${pct(s)}.enc?ccb=11-4&oh=x&oe=ff`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('/', '//evil.example/x', '/../../etc/passwd', '/%2e%2e/%2e%2e/', 'v/t62/x', '/ x', '/\u202ex', '/\ud800',
      'http://evil.example/x', '/x?oe=zz', '/x#y', `/${'a'.repeat(4096)}`),
  },
  { weight: 1, arbitrary: oddString.map((s) => `/${s}`) },
  { weight: 2, arbitrary: anyJson },
);

const mimetypeField: fc.Arbitrary<JsonModel> = fc.oneof(
  fc.constantFrom('image/jpeg', 'application/pdf', 'audio/ogg; codecs=opus', 'video/mp4', 'text/html', 'image/svg+xml', 'x/y;\r\nSet-Cookie: a=b', 'a/b; charset="\u202e"', `a/${'b'.repeat(300)}`),
  oddString,
  anyJson,
);

const fileLengthField: fc.Arbitrary<JsonModel> = fc.oneof(
  fc.nat({ max: 1_000_000 }),
  oddNumber,
  oddNumber.map((n) => (typeof n === 'number' ? String(n) : toJsonText(n))),
  fc.record({ low: oddNumber, high: oddNumber, unsigned: fc.oneof(fc.boolean(), oddScalar) }).map(({ low, high, unsigned }) => obj(['low', low], ['high', high], ['unsigned', unsigned])),
  anyJson,
);

/** The messageKey field: a message key as Baileys has it, near ones, or anything. */
const messageKeyField: fc.Arbitrary<JsonModel> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({ id: fc.stringMatching(/^[0-9A-F]{16,32}$/), fromMe: fc.boolean(), participant: fc.option(fc.constant('5511888888888@s.whatsapp.net'), { nil: undefined }) })
      .map(({ id, fromMe, participant }) =>
        obj(['id', id], ['remoteJid', '5511999999999@s.whatsapp.net'], ['fromMe', fromMe], ...(participant ? [['participant', participant] as [string, JsonModel]] : [])),
      ),
  },
  { weight: 1, arbitrary: fc.record({ id: anyJson, remoteJid: anyJson, fromMe: anyJson }).map(({ id, remoteJid, fromMe }) => obj(['id', id], ['remoteJid', remoteJid], ['fromMe', fromMe])) },
  { weight: 1, arbitrary: anyJson },
);

/** A value from `arb` about `tenths` times in ten, else null. */
function sometimes<T>(tenths: number, arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: 10 - tenths, arbitrary: fc.constant(null) }, { weight: tenths, arbitrary: arb });
}

function isObject(value: JsonModel): value is { $obj: [string, JsonModel][] } {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && '$obj' in value;
}

/** Field `name` with a generated value, or absent. */
function field(name: string, value: fc.Arbitrary<JsonModel>, presence = 0.8): fc.Arbitrary<[string, JsonModel][]> {
  return fc.oneof(
    { weight: Math.round(presence * 10), arbitrary: value.map((v): [string, JsonModel][] => [[name, v]]) },
    { weight: Math.round((1 - presence) * 10), arbitrary: fc.constant<[string, JsonModel][]>([]) },
  );
}

/** Extra keys: prototype pollution attempts and odd names. */
const extraFields: fc.Arbitrary<[string, JsonModel][]> = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom(...specialKeys), oddString),
    fc.oneof(anyJson, fc.constant(obj(['polluted', true], ['instanceId', OTHER_INSTANCE], ['isAdmin', true]))),
  ),
  { maxLength: 3 },
);

/** A media reference ("content"): each field valid-looking, wrong, or absent. */
const contentObject: fc.Arbitrary<JsonModel> = fc
  .tuple(
    field('url', urlField, 0.5),
    field('directPath', directPathField, 0.7),
    field('mediaKey', fc.oneof({ weight: 4, arbitrary: bytesField(32) }, { weight: 1, arbitrary: anyJson }), 0.9),
    field('mimetype', mimetypeField, 0.3),
    field('fileSha256', fc.oneof(bytesField(32), anyJson), 0.3),
    field('fileEncSha256', fc.oneof(bytesField(32), anyJson), 0.3),
    field('fileLength', fileLengthField, 0.3),
    // Nothing is served at the generated references: with a message key their jobs wait for a re-upload.
    field('messageKey', messageKeyField, 0.3),
    extraFields,
  )
  .chain((parts) => fc.shuffledSubarray(parts.flat(), { minLength: parts.flat().length }))
  .map(($obj) => ({ $obj }));

/** A reference to a media the CDN really serves: right, or subtly wrong (type, hashes, length). */
function publishedContent(): fc.Arbitrary<{ contentType: JsonModel; content: JsonModel }> {
  return fc
    .record({
      index: fc.nat(media.length - 1),
      useUrl: fc.boolean(),
      useDirectPath: fc.boolean(),
      mutation: fc.constantFrom('none', 'none', 'none', 'other-type', 'wrong-sha', 'wrong-length', 'wrong-enc-sha', 'mimetype', 'odd-mimetype'),
      keyEncoding: fc.constantFrom('base64', 'hex', 'indexed', 'buffer', 'array'),
    })
    .map(({ index, useUrl, useDirectPath, mutation, keyEncoding }) => {
      const m = media[index]!;
      const key = Buffer.from(m.mediaKey, 'base64');
      const keyValue: JsonModel =
        keyEncoding === 'hex' ? key.toString('hex')
          : keyEncoding === 'indexed' ? { $obj: [...key].map((n, i): [string, JsonModel] => [String(i), n]) }
            : keyEncoding === 'buffer' ? obj(['type', 'Buffer'], ['data', [...key]])
              : keyEncoding === 'array' ? [...key]
                : m.mediaKey;
      const entries: [string, JsonModel][] = [['mediaKey', keyValue]];
      if (useUrl || !useDirectPath) entries.push(['url', m.url]);
      if (useDirectPath) entries.push(['directPath', m.directPath]);
      entries.push(['fileSha256', mutation === 'wrong-sha' ? m.fileEncSha256 : m.fileSha256]);
      entries.push(['fileEncSha256', mutation === 'wrong-enc-sha' ? m.fileSha256 : m.fileEncSha256]);
      entries.push(['fileLength', mutation === 'wrong-length' ? m.fileLength + 1 : m.fileLength]);
      // Not a media type (beyond Latin-1 outside quotes): a 400. The odd one is one (a quoted-pair, spaces): served as given.
      if (mutation === 'mimetype') entries.push(['mimetype', 'application/x-\u00e9; name="\u202etxt.exe"']);
      if (mutation === 'odd-mimetype') entries.push(['mimetype', 'application/x-odd ;name="a\\"b c";  q=1']);
      const contentType = mutation === 'other-type' ? (m.contentType === 'document' ? 'image' : 'document') : m.contentType;
      return { contentType, content: { $obj: entries } };
    });
}

/** A reference to a channel media the CDN really serves, without a mediaKey: right, or wrong (hash, length, no hash). */
function publishedChannelContent(): fc.Arbitrary<{ contentType: JsonModel; content: JsonModel }> {
  return fc
    .record({ index: fc.nat(channelMedia.length - 1), mutation: fc.constantFrom('none', 'none', 'wrong-sha', 'wrong-length', 'no-sha', 'enc-sha') })
    .map(({ index, mutation }) => {
      const m = channelMedia[index]!;
      const entries: [string, JsonModel][] = [['directPath', m.directPath], ['url', m.url], ['fileLength', mutation === 'wrong-length' ? m.fileLength + 1 : m.fileLength]];
      if (mutation === 'wrong-sha') entries.push(['fileSha256', media[1]!.fileSha256]);
      else if (mutation !== 'no-sha') entries.push(['fileSha256', m.fileSha256]);
      if (mutation === 'enc-sha') entries.push(['fileEncSha256', m.fileSha256]);
      return { contentType: m.contentType, content: { $obj: entries } };
    });
}

/** The message field that holds each contentType's media. */
const mediaFieldOf: Record<string, string> = {
  image: 'imageMessage', sticker: 'stickerMessage', video: 'videoMessage', gif: 'videoMessage', ptv: 'ptvMessage',
  audio: 'audioMessage', ptt: 'audioMessage', document: 'documentMessage',
};
const MEDIA_FIELDS = ['imageMessage', 'videoMessage', 'audioMessage', 'documentMessage', 'stickerMessage', 'ptvMessage'];
const WRAPPERS = ['ephemeralMessage', 'viewOnceMessage', 'viewOnceMessageV2', 'viewOnceMessageV2Extension', 'documentWithCaptionMessage'];

/** A message's `key`: the real shape (chats, groups, channels), near it (no remoteJid: not carried), or anything. */
const keyOfMessage: fc.Arbitrary<JsonModel> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({ id: fc.stringMatching(/^[0-9A-F]{8,32}$/), jid: fc.constantFrom('5511999999999@s.whatsapp.net', '120363000000000000@g.us', '120363000000000000@newsletter'), fromMe: fc.boolean() })
      .map(({ id, jid, fromMe }) => obj(['remoteJid', jid], ['fromMe', fromMe], ['id', id])),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(field('id', fc.oneof(oddString, anyJson), 0.8), field('remoteJid', fc.oneof(oddString, anyJson, fc.constant(null)), 0.8), field('fromMe', fc.oneof(oddScalar, fc.boolean()), 0.7), field('participant', anyJson, 0.3), extraFields)
      .map((parts): JsonModel => ({ $obj: parts.flat() })),
  },
  { weight: 1, arbitrary: anyJson },
);

/** A media message's fields: a generated reference, a published one, or a channel's; with flags and noise. */
function mediaInMessage(): fc.Arbitrary<{ field: string; value: JsonModel }> {
  const flags = fc.tuple(
    field('ptt', fc.oneof(fc.boolean(), oddScalar), 0.3),
    field('gifPlayback', fc.oneof(fc.boolean(), oddScalar), 0.3),
    field('caption', oddString, 0.3),
    field('jpegThumbnail', fc.oneof(bytesField(32), fc.integer({ min: 100, max: 20_000 }).map((n): JsonModel => ({ $long: { unit: 'A', times: n } }))), 0.2),
    field('contextInfo', anyJson, 0.2),
  );
  const withFlags = (content: JsonModel, extra: [string, JsonModel][][]): JsonModel =>
    isObject(content) ? { $obj: [...content.$obj, ...extra.flat()] } : content;
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .record({ field: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...MEDIA_FIELDS) }, { weight: 1, arbitrary: oddString }), content: fc.oneof({ weight: 5, arbitrary: contentObject }, { weight: 1, arbitrary: anyJson }), flags })
        .map(({ field: name, content, flags: extra }) => ({ field: name, value: withFlags(content, extra) })),
    },
    {
      weight: 3,
      arbitrary: fc.record({ ref: fc.oneof(publishedContent(), publishedChannelContent()), flags }).map(({ ref, flags: extra }) => ({
        field: mediaFieldOf[String(ref.contentType)] ?? 'documentMessage',
        value: withFlags(ref.content, extra),
      })),
    },
  );
}

/** The Message: a media inside 0 to 6 wrappers (the API looks through 4), or a message with none. */
function innerMessage(): fc.Arbitrary<JsonModel> {
  const wrapped = fc
    .record({
      media: mediaInMessage(),
      wrappers: fc.array(fc.oneof({ weight: 20, arbitrary: fc.constantFrom(...WRAPPERS) }, { weight: 1, arbitrary: oddString }), { maxLength: 6 }),
      siblings: sometimes(2, extraFields),
      broken: sometimes(1, anyJson),
    })
    .map(({ media: m, wrappers, siblings, broken }): JsonModel =>
      wrappers.reduceRight<JsonModel>(
        (message, wrapper) => obj([wrapper, broken ?? obj(['message', message])]),
        { $obj: [[m.field, m.value], ...(siblings ?? [])] },
      ),
    );
  const noMedia: fc.Arbitrary<JsonModel> = fc.oneof(
    fc.constantFrom<JsonModel>(obj(['conversation', 'hi']), obj(['reactionMessage', obj(['text', '👍'])]), obj(), obj(['protocolMessage', obj(['type', 0])])),
    fc.array(fc.tuple(oddKey, anyJson), { maxLength: 12 }).map(($obj): JsonModel => ({ $obj })),
    fc.integer({ min: 100, max: 3_000 }).map((n): JsonModel => ({ $obj: Array.from({ length: n }, (_, i): [string, JsonModel] => [`f${i}${'x'.repeat(i % 90)}`, i]) })),
  );
  return fc.oneof({ weight: 6, arbitrary: wrapped }, { weight: 1, arbitrary: noMedia });
}

/** A WhatsApp message in each shape a library hands over, or something that is not one. */
function messageValue(): fc.Arbitrary<JsonModel> {
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(field('key', keyOfMessage, 0.9), innerMessage(), sometimes(2, extraFields))
        .map(([key, message, extra]): JsonModel => ({ $obj: [...key, ['message', message], ...(extra ?? [])] })),
    },
    { weight: 2, arbitrary: innerMessage() },
    {
      weight: 2,
      arbitrary: fc
        .tuple(field('key', keyOfMessage, 0.9), innerMessage(), fc.constantFrom<JsonModel>('messages.upsert', 'send.message', 7))
        .map(([key, message, event]): JsonModel => obj(['event', event], ['instance', 'shop'], ['data', { $obj: [...key, ['message', message], ['messageType', 'imageMessage']] }])),
    },
    { weight: 1, arbitrary: anyJson },
  );
}

/** A body holding a message: with a callbackUrl sometimes, the other form's fields rarely, odd extra keys. */
function messageBody(): fc.Arbitrary<JsonModel> {
  return fc
    .tuple(
      messageValue(),
      field('callbackUrl', fc.oneof(fc.constant(`${suite.cdn.origin}/hook`), anyJson), 0.1),
      field('contentType', contentTypeField, 0.05),
      sometimes(3, extraFields),
    )
    .map(([message, callbackUrl, contentType, extra]): JsonModel => ({ $obj: [['message', message], ...callbackUrl, ...contentType, ...(extra ?? [])] }));
}

/** A directly-download body (or a batch item without its id). */
function downloadBody(): fc.Arbitrary<JsonModel> {
  const generated = fc
    .tuple(
      field('contentType', contentTypeField, 0.9),
      field('content', fc.oneof({ weight: 5, arbitrary: contentObject }, { weight: 1, arbitrary: anyJson }), 0.9),
      field('callbackUrl', fc.oneof(fc.constant(`${suite.cdn.origin}/hook`), fc.constant('https://example.com/hook'), anyJson), 0.1),
      extraFields,
    )
    .map((parts): JsonModel => ({ $obj: parts.flat() }));
  const published = fc
    .oneof(publishedContent(), publishedChannelContent())
    .map(({ contentType, content }): JsonModel => obj(['contentType', contentType], ['content', content]));
  return fc.oneof(
    { weight: 6, arbitrary: generated },
    { weight: 2, arbitrary: published },
    { weight: 4, arbitrary: messageBody() },
    // Not an object at all, or not JSON.
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: deepValue },
    {
      weight: 1,
      arbitrary: fc.constantFrom<JsonModel>(...['', '{', '{"contentType":', "{'a':1}", '{"a":1}}', '\ufeff{}', 'null',
        '{"__proto__":{"contentType":"image"}}', '{"a":1,"a":2}'].map(($raw) => ({ $raw }))),
    },
  );
}

/** The query string: `timeout` in every odd spelling, repeated, nested, next to junk parameters. */
const timeoutQuery: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.constant<string | undefined>(undefined) },
      { weight: 4, arbitrary: fc.constantFrom('0', '0', '1', '10', '250', String(MAX_WAIT_MS)) },
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          '', 'NaN', 'Infinity', '-Infinity', '-1', '-0', '1e3', '1e400', '0x10', '0b1', '0o7', '%205', '5%20', '1.5',
          String(MAX_WAIT_MS + 1), '99999999999999999999', '9007199254740993', '+5', 'null', 'true', '%5B%5D', '%7B%7D',
          '%ZZ', '%', '%00', '%E2%80%AE', '%ED%A0%80', '%D9%A1%D9%A2', '1%2C000', '1_000', '1e-3',
        ),
      },
      { weight: 1, arbitrary: oddString.map(pct) },
    ),
    fc.constantFrom('single', 'single', 'single', 'twice', 'brackets', 'nested', 'bare'),
    fc.array(fc.constantFrom('__proto__=1', 'constructor=x', '__proto__%5BisAdmin%5D=1', 'prototype=', 'a=%ZZ', '&&', 'x', `pad=${'p'.repeat(2000)}`), { maxLength: 2 }),
  )
  .map(([value, form, junk]) => {
    const parts: string[] = [...junk];
    if (value !== undefined) {
      if (form === 'twice') parts.push(`timeout=${value}`, 'timeout=2');
      else if (form === 'brackets') parts.push(`timeout[]=${value}`);
      else if (form === 'nested') parts.push(`timeout[a]=${value}`);
      else if (form === 'bare') parts.push('timeout');
      else parts.push(`timeout=${value}`);
    }
    return parts.length ? `?${parts.join('&')}` : '';
  });

/** A query value: usual ones, edge cases, odd spellings, or anything (percent-encoded). */
function queryValue(usual: string[], odd: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...usual) },
    { weight: 3, arbitrary: fc.constantFrom(...odd) },
    { weight: 1, arbitrary: oddString.map(pct) },
  );
}

/** `name=value` once, twice, bracketed or bare: what the simple query parser makes arrays or strings of. */
function queryParam(name: string, value: fc.Arbitrary<string>): fc.Arbitrary<string[]> {
  return fc.tuple(value, fc.constantFrom('single', 'single', 'single', 'twice', 'brackets', 'bare')).map(([v, form]) =>
    form === 'twice' ? [`${name}=${v}`, `${name}=url`] : form === 'brackets' ? [`${name}[]=${v}`] : form === 'bare' ? [name] : [`${name}=${v}`],
  );
}

const ttlValue = queryValue(
  ['1', '60', String(LINK_TTL_SECONDS)],
  ['0', '-1', '1.5', '1e2', '0x10', 'NaN', 'Infinity', '', String(LINK_TTL_SECONDS + 1), '99999999999999999999', '%ZZ', '%00', '+5'],
);

/** The `response` and `ttl` queries of the routes that answer a media, mostly sane, often not. */
const deliveryQuery: fc.Arbitrary<string[]> = fc
  .tuple(
    sometimes(6, queryParam('response', queryValue(['file', 'url', 'url', 'base64', 'base64'], ['', 'URL', 'link', 'url%20', '%75rl', 'base64%00', 'url%2Cbase64', '__proto__', 'toString', 'constructor']))),
    sometimes(3, queryParam('ttl', ttlValue)),
  )
  .map(([response, ttl]) => [...(response ?? []), ...(ttl ?? [])]);

/** The `links` and `ttl` queries of the batch status route. */
const batchLinksQuery: fc.Arbitrary<string[]> = fc
  .tuple(
    sometimes(5, queryParam('links', queryValue(['1', '0', 'true', 'false'], ['', '2', 'yes', 'TRUE', '%31', '1%20', '__proto__']))),
    sometimes(3, queryParam('ttl', ttlValue)),
  )
  .map(([links, ttl]) => [...(links ?? []), ...(ttl ?? [])]);

/** `path` with more query parameters, after any it has. */
function withQuery(path: string, parts: string[]): string {
  if (parts.length === 0) return path;
  return `${path}${path.includes('?') ? '&' : '?'}${parts.join('&')}`;
}

/** Most cases carry a valid token for the route's instance; some another instance's, a broken one, or none. */
const authSpec: fc.Arbitrary<AuthSpec> = fc.oneof(
  { weight: 16, arbitrary: fc.constant<AuthSpec>({ kind: 'valid' }) },
  { weight: 1, arbitrary: fc.constant<AuthSpec>({ kind: 'none' }) },
  { weight: 1, arbitrary: fc.constantFrom('bearer', 'BEARER', 'Bearer ', 'Bearer\t', 'Token', 'JWT', 'Basic', 'Bearer x').map((scheme): AuthSpec => ({ kind: 'for', instance: INSTANCE, scheme })) },
  { weight: 1, arbitrary: fc.constant<AuthSpec>({ kind: 'for', instance: OTHER_INSTANCE }) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        header: fc.oneof(
          fc.constantFrom<JsonModel>(
            obj(['alg', 'HS256'], ['typ', 'JWT']), obj(['alg', 'none']), obj(['alg', 'RS256']), obj(['alg', 'hs256']), obj(['typ', 'JWT']),
            obj(['alg', 'HS256'], ['crit', ['exp']]), obj(['alg', 'HS256'], ['kid', '../../../dev/null']),
            obj(['alg', 'HS256'], ['__proto__', obj(['alg', 'none'])]),
          ),
          smallJson,
        ),
        payload: fc.oneof(
          fc.tuple(
            fc.oneof(fc.constant<JsonModel>(INSTANCE), smallJson),
            fc.array(fc.tuple(fc.constantFrom('exp', 'nbf', 'iat', 'ver', 'iss', 'aud', '__proto__', 'constructor'), fc.oneof(oddNumber, smallJson)), { maxLength: 3 }),
          ).map(([instanceId, claims]) => obj(['instanceId', instanceId], ...claims)),
          smallJson,
        ),
        secret: fc.constantFrom<'stack' | 'other' | 'none'>('stack', 'stack', 'stack', 'other', 'none'),
      })
      .map((token): AuthSpec => ({ kind: 'signed', ...token })),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.constantFrom('Bearer', 'Bearer ', 'Bearer a.b.c', 'Bearer ....', 'Bearer e30.e30.', 'Basic dXNlcjpwYXNz', 'Digest username="a"',
          'Negotiate YII=', 'Bearer \u00e9\u00e8', `Bearer ${'a'.repeat(8000)}`, `Bearer ${'eyJ'.repeat(100)}.${'e'.repeat(100)}.x`),
        fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
      )
      .map((value): AuthSpec => ({ kind: 'literal', value })),
  },
);

function jsonBody(json: JsonModel): PooledCase['body'] {
  return { json, contentType: 'application/json', encoding: 'identity' };
}

const directlyDownloadCase: fc.Arbitrary<FuzzCase> = fc.constant(null).chain(() =>
  fc.record({ body: downloadBody(), query: timeoutQuery, delivery: deliveryQuery, auth: authSpec }).map(
    ({ body, query, delivery, auth }): FuzzCase => ({
      via: 'pool',
      method: 'POST',
      path: withQuery(`/api/v2/instance/${INSTANCE}/media/directly-download${query}`, delivery),
      instance: INSTANCE,
      auth,
      headers: [],
      body: jsonBody(body),
    }),
  ),
);

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/json; charset=UTF-8', 'application/json;charset=utf-16',
  'application/json; charset=utf-16le', 'application/json; charset=latin1', 'application/json; charset=iso-8859-1',
  'application/json; charset=utf-7', 'application/json; charset=binary', 'application/json; charset="utf-8"', 'application/json; charset=',
  'application/json; charset=x-unknown', 'application/json;;', 'application/json; charset=utf-8; charset=latin1', 'APPLICATION/JSON',
  'application/vnd.api+json', 'application/problem+json', 'application/*', 'text/plain', 'text/json', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x', 'application/octet-stream', '*/*', 'json', '', ' ', 'application/json\u00e9', `application/${'x'.repeat(3000)}`,
];

/** Request headers anyone could send: ranges, validators, ids, padding, many of them. */
const extraHeader: fc.Arbitrary<[string, string][]> = fc.oneof(
  fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=5-', 'bytes=999999-', 'bytes=10-5', 'bytes=0-0,2-3', 'bytes=a-b', 'items=0-1', 'bytes=',
    'bytes=-0', `bytes=${'0-1,'.repeat(500)}0-1`).map((v): [string, string][] => [['range', v]]),
  fc.constantFrom('*', '"x"', 'W/"x"', '"', ',,,', `"${'a'.repeat(64)}"`).map((v): [string, string][] => [['if-none-match', v]]),
  fc.oneof(fc.constantFrom('ok-id', '../../x', '\u00e9', '', 'a'.repeat(65)), fc.string({ maxLength: 80 }).filter((s) => /^[\x20-\x7e]*$/.test(s)))
    .map((v): [string, string][] => [['x-request-id', v]]),
  fc.constantFrom('*/*', 'application/json', 'text/html', '', 'application/json;q=0').map((v): [string, string][] => [['accept', v]]),
  fc.constantFrom('gzip', 'br', 'identity;q=0', '*;q=0').map((v): [string, string][] => [['accept-encoding', v]]),
  fc.integer({ min: 1_000, max: 11_000 }).map((n): [string, string][] => [['x-padding', 'p'.repeat(n)]]),
  fc.integer({ min: 10, max: 200 }).map((n) => Array.from({ length: n }, (_, i): [string, string] => [`x-fuzz-${i}`, String(i)])),
  fc.constantFrom<[string, string][]>([['origin', 'null']], [['x-forwarded-for', '127.0.0.1, ::1']], [['cookie', '__proto__=1; constructor=2']],
    [['x-http-method-override', 'DELETE']], [['content-language', '\u00e9']]),
);

/** Odd headers and body encodings on the media routes. */
const headerCase: fc.Arbitrary<FuzzCase> = fc.constant(null).chain(() =>
  fc
    .record({
      route: fc.constantFrom('download', 'download', 'download', 'batch', 'job', 'content'),
      body: downloadBody(),
      contentType: fc.oneof({ weight: 1, arbitrary: fc.constant<string | null>(null) }, { weight: 8, arbitrary: fc.constantFrom<string | null>(...CONTENT_TYPES) }),
      encoding: fc.constantFrom<EncodingSpec>('identity', 'identity', 'gzip', 'deflate', 'br', 'garbage', 'garbage', 'double-gzip', 'label-only', 'gzip-bomb'),
      encodingLabel: sometimes(1, fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'GZIP', 'x-gzip', 'compress', 'zstd', 'gzip, identity', 'identity, gzip', 'gzip;q=1', '')),
      headers: fc.array(extraHeader, { maxLength: 3 }),
      auth: authSpec,
      query: fc.oneof(fc.constant(''), timeoutQuery),
      delivery: deliveryQuery,
      known: fc.nat(),
    })
    .map(({ route, body, contentType, encoding, encodingLabel, headers, auth, query, delivery, known }): FuzzCase => {
      const job = knownJob(known);
      const path =
        route === 'download' ? withQuery(`/api/v2/instance/${INSTANCE}/media/directly-download${query}`, delivery)
          : route === 'batch' ? `/api/v2/instance/${INSTANCE}/media/batch`
            : route === 'job' ? `/api/v2/instance/${INSTANCE}/media/jobs/${job}`
              : withQuery(`/api/v2/instance/${INSTANCE}/media/jobs/${job}/content`, delivery);
      const method = route === 'job' || route === 'content' ? 'GET' : 'POST';
      const wrapped: JsonModel = route === 'batch' ? obj(['items', [body]]) : body;
      return {
        via: 'pool',
        method,
        path,
        instance: INSTANCE,
        auth,
        headers: headers.flat(),
        body: method === 'POST' ? { json: wrapped, contentType, encoding, encodingLabel: encodingLabel ?? undefined } : undefined,
      };
    }),
);

/** A path segment standing for an id: a usual one, or odd text in one of several encodings. */
function segment(usual: fc.Arbitrary<string>): fc.Arbitrary<{ encoded: string; decoded: string }> {
  const plain = (s: string) => ({ encoded: pct(s), decoded: s });
  return fc.oneof(
    { weight: 6, arbitrary: usual.map(plain) },
    { weight: 3, arbitrary: oddString.filter((s) => s.length > 0).map(plain) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 6_000 }).map((n) => plain('i'.repeat(n))) },
    {
      weight: 2,
      arbitrary: fc.constantFrom('%ZZ', '%', '%C3', '%ED%A0%80', '%00', '%2F', '%2e%2e', '..', '.', '%20', '%E2%80%AE%E2%80%8B', '%F0%9F%98%80', 'a%2Fb', '%25', '%u0041', '+')
        .map((encoded) => ({ encoded, decoded: decodeSegment(encoded) })),
    },
  );
}

const ROUTES = [
  ['POST', '/api/v2/instance/{i}/media/directly-download'],
  ['GET', '/api/v2/instance/{i}/media/jobs/{j}'],
  ['GET', '/api/v2/instance/{i}/media/jobs/{j}/content'],
  ['POST', '/api/v2/instance/{i}/media/jobs/{j}/reupload'],
  ['GET', '/api/v2/instance/{i}/webhook-secret'],
  ['POST', '/api/v2/instance/{i}/media/batch'],
  ['GET', '/api/v2/instance/{i}/media/batch/{b}'],
  ['GET', '/api/v2/instance/{i}/media/batch/{b}/items/{t}/content'],
  ['GET', '/media/files/{t}'],
  ['GET', '/media/files'],
  ['GET', '/api/v2/instance/{i}/media'],
  ['GET', '/api/v2/instance/{i}'],
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
  ['GET', '/openapi.json'],
  ['GET', '/docs'],
  ['GET', '/docs/assets/{t}'],
  ['GET', '/admin/queues'],
  ['GET', '/'],
] as const;

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];

/** Rewrites a path the way sloppy or hostile clients do. */
const pathMutation: fc.Arbitrary<(path: string) => string> = fc.constantFrom(
  (p: string) => p,
  (p: string) => p,
  (p: string) => p,
  (p: string) => `${p}/`,
  (p: string) => p.replaceAll('/', '//'),
  (p: string) => `/${p}`,
  (p: string) => p.replace('/media', '/./media'),
  (p: string) => p.replace('/media', '/x/../media'),
  (p: string) => p.replace('/media', '/%2e%2e/media'),
  (p: string) => p.replace(/(.)\/media\//, '$1%2Fmedia%2F'),
  (p: string) => p.toUpperCase(),
  (p: string) => `${p};a=b`,
  (p: string) => `${p}#frag`,
  (p: string) => `${p}?`,
  (p: string) => `${p}?%ZZ=%ZZ&a[b][c][d]=1&__proto__[x]=1`,
  (p: string) => p.replace('/api/v2', '/api/v1'),
  (p: string) => `${p}${'/a'.repeat(2000)}`,
);

/** Any method on any known path, with odd ids in the path and a valid token for whatever instance the path names. */
const pathCase: fc.Arbitrary<FuzzCase> = fc.constant(null).chain(() =>
  fc
    .record({
      route: fc.constantFrom(...ROUTES),
      method: sometimes(5, fc.constantFrom(...METHODS)),
      instance: segment(fc.constantFrom(INSTANCE, INSTANCE, INSTANCE, OTHER_INSTANCE)),
      job: segment(fc.oneof(fc.nat().map(knownJob), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }).map((h) => `dl-${h}`), fc.constant('dl-'))),
      batch: segment(fc.oneof(fc.nat().map((i) => knownBatch(i).batchId), fc.uuid())),
      tail: segment(fc.constantFrom('item-1', 'swagger-ui.css', 'index.html', '..%2F..%2Fpackage.json')),
      mutate: pathMutation,
      body: sometimes(5, downloadBody()),
      auth: authSpec,
    })
    .map(({ route, method, instance, job, batch, tail, mutate, body, auth }): FuzzCase => {
      const chosen = method ?? route[0];
      const path = mutate(route[1].replace('{i}', instance.encoded).replace('{j}', job.encoded).replace('{b}', batch.encoded).replace('{t}', tail.encoded));
      return {
        via: 'pool',
        method: chosen,
        path,
        instance: instance.decoded,
        auth,
        headers: [],
        body: body && chosen !== 'GET' && chosen !== 'HEAD' ? jsonBody(body) : undefined,
      };
    }),
);

const itemId: fc.Arbitrary<JsonModel> = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,20}$/) },
  { weight: 2, arbitrary: fc.constantFrom<JsonModel>('a', 'a', 'dup', 'dup', '.hidden', '../x', 'a/b', '', 'x'.repeat(129), 'ä', '__proto__', 'constructor', 0, null) },
  { weight: 1, arbitrary: anyJson },
);

/** One batch item: `{id, contentType, content}` from the download generators, or anything. */
const batchItem: fc.Arbitrary<JsonModel> = fc.constant(null).chain(() =>
  fc.oneof(
    { weight: 8, arbitrary: fc.tuple(field('id', itemId, 0.9), downloadBody()).map(([id, body]): JsonModel => (isObject(body) ? { $obj: [...id, ...body.$obj] } : body)) },
    { weight: 1, arbitrary: anyJson },
  ),
);

/** The batch routes: submissions of generated items, pages with odd offsets and limits, item contents. */
const batchCase: fc.Arbitrary<FuzzCase> = fc.constant(null).chain(() =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .record({
          items: fc.oneof(
            { weight: 10, arbitrary: fc.array(batchItem, { minLength: 0, maxLength: 12 }) },
            { weight: 1, arbitrary: fc.integer({ min: BATCH_MAX_ITEMS + 1, max: BATCH_MAX_ITEMS + 50 }).map((n) => Array.from({ length: n }, () => obj(['id', 'x']))) },
            { weight: 1, arbitrary: anyJson },
          ),
          extras: fc.tuple(
            field('callbackUrl', fc.oneof(fc.constant(`${suite.cdn.origin}/hook`), anyJson), 0.15),
            field('links', fc.oneof({ weight: 3, arbitrary: fc.boolean() }, { weight: 1, arbitrary: anyJson }), 0.15),
            extraFields,
          ),
          whole: sometimes(1, anyJson),
          auth: authSpec,
        })
        .map(({ items, extras, whole, auth }): FuzzCase => ({
          via: 'pool',
          method: 'POST',
          path: `/api/v2/instance/${INSTANCE}/media/batch`,
          instance: INSTANCE,
          auth,
          headers: [],
          body: jsonBody(whole ?? { $obj: [['items', items], ...extras.flat()] }),
        })),
    },
    {
      weight: 3,
      arbitrary: fc
        .record({
          known: fc.nat(),
          batchId: sometimes(3, fc.oneof(fc.uuid(), oddString.map(pct))),
          offset: sometimes(7, fc.oneof(fc.nat({ max: 200 }).map(String), fc.constantFrom('-1', '1e3', 'NaN', 'Infinity', '0x1', '1.5', '', '99999999999999999999', '%ZZ'))),
          limit: sometimes(7, fc.oneof(fc.integer({ min: 0, max: 1_001 }).map(String), fc.constantFrom('-1', '1e3', 'NaN', 'Infinity', '0x1', '1.5', '', '99999999999999999999', '%ZZ'))),
          twice: fc.boolean(),
          links: batchLinksQuery,
          auth: authSpec,
        })
        .map(({ known, batchId, offset, limit, twice, links, auth }): FuzzCase => {
          const id = batchId ?? knownBatch(known).batchId;
          const query = [offset !== null ? `offset=${offset}` : '', limit !== null ? `limit=${limit}` : '', twice ? 'limit=1&offset=2' : '', ...links].filter(Boolean).join('&');
          return { via: 'pool', method: 'GET', path: `/api/v2/instance/${INSTANCE}/media/batch/${id}${query ? `?${query}` : ''}`, instance: INSTANCE, auth, headers: [] };
        }),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({
          known: fc.nat(),
          item: sometimes(4, segment(fc.constantFrom('a', 'dup', '#0', '%230'))),
          range: sometimes(5, extraHeader),
          delivery: deliveryQuery,
          auth: authSpec,
        })
        .map(({ known, item, range, delivery, auth }): FuzzCase => {
          const { batchId, itemIds } = knownBatch(known);
          const itemPart = item?.encoded ?? pct(itemIds[known % Math.max(itemIds.length, 1)] ?? 'a');
          const path = withQuery(`/api/v2/instance/${INSTANCE}/media/batch/${batchId}/items/${itemPart}/content`, delivery);
          return { via: 'pool', method: 'GET', path, instance: INSTANCE, auth, headers: range ?? [] };
        }),
    },
  ),
);

/** Bytes of `min` to `max` bytes in every encoding a byte field takes, or about that many. */
function variableBytes(min: number, max: number): fc.Arbitrary<JsonModel> {
  return fc
    .oneof(
      { weight: 4, arbitrary: fc.uint8Array({ minLength: min, maxLength: max }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: min }) },
      { weight: 1, arbitrary: fc.integer({ min: max, max: max + 64 }).map((n) => new Uint8Array(n)) },
    )
    .chain(encodedBytes);
}

/** A notification: `{ciphertext, iv}` of right, wrong or odd sizes and encodings, or anything. */
const notificationField: fc.Arbitrary<JsonModel> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(field('ciphertext', variableBytes(16, 300), 0.9), field('iv', fc.oneof(bytesField(12), anyJson), 0.9), extraFields)
      .map((parts): JsonModel => ({ $obj: parts.flat() })),
  },
  { weight: 1, arbitrary: variableBytes(16, 64) },
  { weight: 1, arbitrary: anyJson },
);

/** A re-upload answer: a directPath, a notification, both, neither, or anything at all. */
const reuploadBody: fc.Arbitrary<JsonModel> = fc.constant(null).chain(() =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(field('directPath', directPathField, 0.4), field('notification', notificationField, 0.6), extraFields)
        .map((parts): JsonModel => ({ $obj: parts.flat() })),
    },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: deepValue },
  ),
);

/** The re-upload route: generated answers to known jobs (some waiting for one), odd job ids and tokens. */
const reuploadCase: fc.Arbitrary<FuzzCase> = fc.constant(null).chain(() =>
  fc
    .record({
      known: fc.nat(),
      job: sometimes(2, segment(fc.constantFrom(`dl-${'0'.repeat(64)}`, 'dl-', 'x'))),
      body: reuploadBody,
      auth: authSpec,
    })
    .map(({ known, job, body, auth }): FuzzCase => ({
      via: 'pool',
      method: 'POST',
      path: `/api/v2/instance/${INSTANCE}/media/jobs/${job?.encoded ?? knownJob(known)}/reupload`,
      instance: INSTANCE,
      auth,
      headers: [],
      body: jsonBody(body),
    })),
);

/** What a link route reads of a path: its folder, the SHA-256 segment and the query, decoded as express decodes them. */
function readLink(path: string): { folder: string; sha256: string; query: Record<string, unknown> } {
  const [pathname = '', search = ''] = path.split('?', 2);
  // Express routes ignore case and one trailing slash (one only: "<sha256>//" is another path).
  const segments = pathname.replace(/\/$/, '').split('/');
  const folder = segments.slice(0, -1).join('/').toLowerCase();
  return { folder, sha256: decodeSegment(segments.at(-1) ?? ''), query: parseQuery(search) };
}

/** Every parameter of a signed link: a changed link that decodes to all of these is the same link. */
const LINK_PARAMS = ['exp', 'name', 'type', 'sig'] as const;

/** Whether `path` decodes to exactly the link that was signed. */
function isSignedLink(path: string): boolean {
  const original = readLink(signedLink);
  const given = readLink(path);
  return (
    given.folder === original.folder &&
    given.sha256 === original.sha256 &&
    LINK_PARAMS.every((name) => given.query[name] === original.query[name])
  );
}

/** Changes one thing of a link (or nothing): a character, a parameter's value, its presence or its count. */
const linkMutation: fc.Arbitrary<(path: string) => string> = fc.oneof(
  { weight: 1, arbitrary: fc.constant((path: string) => path) },
  {
    weight: 4,
    arbitrary: fc.tuple(fc.nat(), fc.constantFrom(...'0123456789abcdefABCDEF-_%=&.+/')).map(([at, char]) => (path: string) => {
      const start = '/media/files/'.length;
      const index = start + (at % (path.length - start));
      return path.slice(0, index) + char + path.slice(index + 1);
    }),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom(...LINK_PARAMS), queryValue(['', '0', '1', 'x', 'image-x.jpg', 'text/html', 'A'.repeat(43)], ['%ZZ', '%00', '-1', '1e20', '99999999999', 'a'.repeat(300), '%E2%80%AE']))
      .map(([name, value]) => (path: string) => {
        const [pathname, search = ''] = path.split('?', 2);
        const params = search.split('&').map((pair) => (pair.startsWith(`${name}=`) ? `${name}=${value}` : pair));
        return `${pathname}?${params.join('&')}`;
      }),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom(...LINK_PARAMS), fc.constantFrom('drop', 'twice', 'brackets', 'bare')).map(([name, how]) => (path: string) => {
      const [pathname, search = ''] = path.split('?', 2);
      const params = search.split('&').flatMap((pair) => {
        if (!pair.startsWith(`${name}=`)) return [pair];
        if (how === 'drop') return [];
        if (how === 'twice') return [pair, pair];
        if (how === 'brackets') return [pair.replace('=', '[]=')];
        return [name];
      });
      return `${pathname}?${params.join('&')}`;
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      (path: string) => path.split('?')[0]!,
      (path: string) => `${path}&exp=1`,
      (path: string) => path.replace('/media/files/', '/media/files/../files/'),
      (path: string) => path.replace('?', '/?'),
      (path: string) => path.replace(/\/media\/files\/[0-9a-f]+/, (p) => p.toUpperCase()),
      (path: string) => path.replace(/[0-9a-f]{64}/, (hex) => pct(hex).replace(/a/g, '%61')),
      (path: string) => path.replace(/[0-9a-f]{64}/, '..%2F..%2Fpackage.json'),
      (path: string) => `${path}&__proto__[sig]=x`,
    ),
  },
);

/** The link route: real links changed in one way, with odd headers; only the signed link itself may serve the file. */
const linkCase: fc.Arbitrary<FuzzCase> = fc.constant(null).chain(() =>
  fc
    .record({ mutations: fc.array(linkMutation, { minLength: 1, maxLength: 2 }), headers: fc.array(extraHeader, { maxLength: 2 }), auth: sometimes(2, authSpec) })
    .map(({ mutations, headers, auth }): FuzzCase => {
      const path = mutations.reduce((current, mutate) => mutate(current), signedLink);
      return {
        via: 'pool',
        method: 'GET',
        path,
        instance: INSTANCE,
        auth: auth ?? { kind: 'none' },
        headers: headers.flat(),
        check: (response) => {
          // The link as signed (percent-encoded otherwise, perhaps): the file, a range of it, or
          // 304/416; or 431 when the generated headers are over Node's size limit (before routing).
          if (isSignedLink(path)) return [200, 206, 304, 416, 431].includes(response.status) ? undefined : `the signed link answered ${response.status}`;
          // Changed: refused (403), or refused before the route (a path that does not decode, headers too large,
          // another path); never anything only a valid signature gets: the file, a range's 416, "no longer stored".
          const reachedTheFile = response.status < 400 || response.status === 416 || /no longer stored/.test(response.body.toString());
          return reachedTheFile ? `a changed link answered ${response.status}` : undefined;
        },
      };
    }),
);

/** A UTF-8 string spelled as latin1 text, so it goes on the wire as its UTF-8 bytes. */
function utf8Bytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** Requests broken at the byte level: request lines, header syntax, framing. Written on their own sockets. */
const rawCase: fc.Arbitrary<FuzzCase> = fc.constant(null).chain(() =>
  fc
    .record({
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'HEAD', 'OPTIONS', 'DELETE') },
        { weight: 1, arbitrary: fc.constantFrom('get', 'FOO', 'G ET', 'PROPFIND', 'M-SEARCH', 'PRI', '', 'POST\u0000') },
      ),
      target: fc.oneof(
        { weight: 4, arbitrary: fc.oneof(oddString, fc.constantFrom('ä', '\u202e', '\ud800', '😀')).map((s) => utf8Bytes(`/api/v2/instance/${s}/media/directly-download`)) },
        {
          weight: 2,
          arbitrary: fc.constantFrom(
            `/api/v2/instance/${INSTANCE}/media/directly-download`,
            `/api/v2/instance/${INSTANCE}/media/directly-download?response=url`,
            `/api/v2/instance/${INSTANCE}/media/directly-download?response=base64`,
            `/api/v2/instance/${INSTANCE}/media/jobs/x`,
            `/api/v2/instance/${INSTANCE}/media/batch`,
          ),
        },
        {
          weight: 2,
          arbitrary: fc.constantFrom('*', 'http://evil.example/api/v2/instance/fuzz-a/media/batch', '/../../../etc/passwd', '/ space', '/\ttab',
            'noslash', '/%', '//', '/?a=\u00ff', '/\u007f', `/${'x'.repeat(12_000)}`),
        },
      ),
      version: fc.oneof({ weight: 8, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 ', 'HTTP/1', 'http/1.1', 'HTTP/1.1x', '') }),
      host: fc.constantFrom('Host: api\r\n', 'Host: api\r\n', 'Host: api\r\n', '', 'Host: \r\n', 'Host: a\r\nHost: b\r\n', 'Host: \u00e4\r\n'),
      auth: fc.constantFrom(...['{{token}}', '{{token}}', '{{token}}', '{{token}} ', '\u00e9'].map((t) => `Authorization: Bearer ${t}\r\n`), ''),
      oddHeaders: fc.array(
        fc.constantFrom('X-A:b\r\n', 'X-A : b\r\n', 'X-A: b\r\n c\r\n', 'X-A: \u0001\r\n', `X-A: ${utf8Bytes('é😀')}\r\n`, 'NoColon\r\n',
          ': novalue\r\n', 'X-A: b\n', 'X\u00e4: 1\r\n', `X-Big: ${'b'.repeat(14_000)}\r\n`, 'Content-Type: application/json\r\n',
          'Content-Type: application/json; charset=utf-16\r\n', 'Content-Encoding: gzip\r\n', 'Expect: 100-continue\r\n',
          'Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n'),
        { maxLength: 3 },
      ),
      framing: fc.constantFrom('length', 'length', 'length', 'chunked', 'bad-chunked', 'both', 'double-length', 'short', 'long-declared', 'negative', 'none'),
      body: downloadBody(),
    })
    .map(({ method, target, version, host, auth, oddHeaders, framing, body }): FuzzCase => {
      const payload = utf8Bytes(toJsonText(body).slice(0, 20_000));
      const byteLength = Buffer.byteLength(payload, 'latin1');
      let head = `${method} ${target} ${version}\r\n${host}${auth}${oddHeaders.join('')}Connection: close\r\n`;
      let rest = payload;
      switch (framing) {
        case 'length':
          head += `Content-Type: application/json\r\nContent-Length: ${byteLength}\r\n`;
          break;
        case 'chunked':
          head += 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n';
          rest = `${byteLength.toString(16)}\r\n${payload}\r\n0\r\n\r\n`;
          break;
        case 'bad-chunked':
          head += 'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n';
          rest = `zz;ext=${'e'.repeat(100)}\r\n${payload}\r\n`;
          break;
        case 'both':
          head += `Content-Type: application/json\r\nContent-Length: ${byteLength}\r\nTransfer-Encoding: chunked\r\n`;
          break;
        case 'double-length':
          head += `Content-Type: application/json\r\nContent-Length: ${byteLength}\r\nContent-Length: ${byteLength + 1}\r\n`;
          break;
        case 'short':
          head += `Content-Type: application/json\r\nContent-Length: ${byteLength + 10}\r\n`;
          break;
        case 'long-declared':
          head += `Content-Type: application/json\r\nContent-Length: 99999999999999999999\r\n`;
          break;
        case 'negative':
          head += 'Content-Type: application/json\r\nContent-Length: -1\r\n';
          break;
        case 'none':
          rest = '';
      }
      const upgrade = oddHeaders.some((header) => header.includes('Upgrade'));
      return { via: 'raw', text: `${head}\r\n${rest}`, complete: framing !== 'short' && !upgrade };
    }),
);

// ---- The properties ---------------------------------------------------------------------

describe(`fuzzing the HTTP API (seed ${SEED})`, () => {
  it('answers every generated directly-download body and timeout query within the contract', async () => {
    await fuzz('directly-download bodies', directlyDownloadCase, 20, 200);
  }, 120_000 * SCALE);

  it('answers odd headers, content types and body encodings within the contract', async () => {
    await fuzz('headers and encodings', headerCase, 10, 200);
  }, 120_000 * SCALE);

  it('answers any method on any known path, with odd ids and encodings, within the contract', async () => {
    await fuzz('paths and methods', pathCase, 10, 200);
  }, 120_000 * SCALE);

  it('answers generated batch submissions, pages and item contents within the contract', async () => {
    await fuzz('batch routes', batchCase, 8, 150);
  }, 120_000 * SCALE);

  it('answers generated re-upload answers within the contract', async () => {
    await fuzz('re-upload answers', reuploadCase, 8, 150);
  }, 120_000 * SCALE);

  it('answers signed links changed in every way with a refusal, and serves only the link as signed', async () => {
    await fuzz('signed links', linkCase, 10, 150);
  }, 120_000 * SCALE);

  it('answers requests broken at the byte level within the contract', async () => {
    await fuzz('raw requests', rawCase, 10, 100);
  }, 120_000 * SCALE);

  describe('what it found, pinned', () => {
    const port = () => Number(new URL(suite.stack.baseUrl).port);
    const raw = async (text: string) => (await sendRaw('127.0.0.1', port(), Buffer.from(text, 'latin1')))!;
    const withToken = (path: string, headers: Record<string, string> = {}, body?: Buffer) =>
      pool.send({ method: body ? 'POST' : 'GET', path, headers: { authorization: `Bearer ${suite.stack.token(INSTANCE)}`, ...headers }, body });

    const cases: [string, () => Promise<FuzzResponse>, number, RegExp][] = [
      ['a path that is not percent-encoded UTF-8 (was a 500)', () => withToken(`/api/v2/instance/${INSTANCE}/media/batch/%C3`), 400, /percent-encoded/],
      ['an instanceId that is not percent-encoded UTF-8 (was a 500)', () => withToken('/api/v2/instance/%ZZ/media/jobs/x'), 400, /percent-encoded/],
      [
        'a body that is not the gzip its Content-Encoding says (was a 500)',
        () => withToken(`/api/v2/instance/${INSTANCE}/media/directly-download`, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, Buffer.from('{"not":"gzip"}')),
        400,
        /could not be read/,
      ],
      [
        'a url field holding an array nested 5,000 levels deep (was a 500: a stack overflow)',
        () =>
          withToken(
            `/api/v2/instance/${INSTANCE}/media/directly-download`,
            { 'content-type': 'application/json' },
            Buffer.from(`{"contentType":"ptt","content":{"mediaKey":"${'A'.repeat(43)}=","url":{"length":["z",${'['.repeat(5_000)}null${']'.repeat(5_000)}]}}}`),
          ),
        400,
        /nested deeper than 32 levels/,
      ],
      ...messageCases(),
      ['an HTTP/1.1 request without Host (was a bare 400)', () => raw('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'), 400, /Host is required/],
      ['raw UTF-8 in the path (was a bare 400)', () => raw(`GET /api/v2/instance/${utf8Bytes('ä')}/media/jobs/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`), 400, /not valid HTTP/],
      ['an unknown method (was a bare 400)', () => raw('FOO /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), 400, /not valid HTTP/],
      ['headers over 16 KiB (was a bare 431)', () => raw(`GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(20_000)}\r\nConnection: close\r\n\r\n`), 431, /size limit/],
      [
        'a body cut short of its Content-Length (was a bare 400, and a 500 logged as an error)',
        () => raw(`POST /api/v2/instance/${INSTANCE}/media/batch HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {{token}}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"items":`.replace('{{token}}', suite.stack.token(INSTANCE))),
        400,
        /./,
      ],
    ];

    /** Hostile WhatsApp messages as input: each a clear 400, never a 500. */
    function messageCases(): [string, () => Promise<FuzzResponse>, number, RegExp][] {
      const post = (body: string) => withToken(`/api/v2/instance/${INSTANCE}/media/directly-download`, { 'content-type': 'application/json' }, Buffer.from(body));
      const image = JSON.stringify({ directPath: '/v/t62.7118-24/x.enc', mediaKey: 'A'.repeat(43) + '=' });
      const wrapped = (depth: number) => `${'{"ephemeralMessage":{"message":'.repeat(depth)}{"imageMessage":${image}}${'}}'.repeat(depth)}`;
      return [
        ['a message with wrappers nested 5 deep', () => post(`{"message":${wrapped(5)}}`), 400, /^message(\.ephemeralMessage\.message){5}: wrappers nested more than 4 deep/],
        ['a message with wrappers nested 20 deep', () => post(`{"message":${wrapped(20)}}`), 400, /nested deeper than 32 levels/],
        ['a message whose media hides behind __proto__', () => post(`{"message":{"__proto__":{"imageMessage":${image}}}}`), 400, /^message: no media: .*"__proto__"$/],
        ['a message of 50,000 fields', () => post(`{"message":{${Array.from({ length: 50_000 }, (_, i) => `"f${i}":0`).join(',')}}}`), 400, /^message: no media: .*, \.\.\.$/],
        ['a message key that is an array', () => post(`{"message":{"key":[1],"message":{"imageMessage":${image}}}}`), 400, /^message\.key: must be an object/],
        ['a message and a reference at once', () => post(`{"message":{"imageMessage":${image}},"content":{}}`), 400, /not both/],
      ];
    }

    it.each(cases)('answers %s in the error shape', async (_name, request, status, message) => {
      const response = await request();
      expect(contractViolation('GET', response), response.body.toString()).toBeUndefined();
      expect(response.status, response.body.toString()).toBe(status);
      expect(JSON.parse(response.body.toString()).message.join('\n')).toMatch(message);
    });
  });

  it('is still serving afterwards: no crash, nothing uncaught, memory in bounds', async () => {
    const mib = (bytes: number | undefined) => (bytes === undefined ? '?' : `${(bytes / 2 ** 20).toFixed(0)} MiB`);
    const warm = rss.find((r) => r.when === 'after directly-download bodies')?.bytes ?? rss[0]!.bytes;
    const end = await residentSetSize(suite.stack.api.pid!);
    rss.push({ when: 'at the end', bytes: end });
    const answers = Object.fromEntries([...statusCounts].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
    console.log(
      `fuzz: ${requestsSent} requests in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (seed ${SEED}); ` +
        `API VmRSS ${rss.map((r) => `${r.when}: ${mib(r.bytes)}`).join(', ')}; answers ${JSON.stringify(answers)}`,
    );
    expect(requestsSent).toBeGreaterThanOrEqual(10_000 * Math.min(SCALE, 1));

    // Still serving: a probe, and a real download (from the cache, or through the worker).
    expect((await pool.send({ method: 'GET', path: '/healthz', headers: {} })).status).toBe(200);
    const [first] = media;
    let download: FuzzResponse | undefined;
    for (let attempt = 0; attempt < 10 && (download?.status ?? 202) === 202; attempt++) {
      download = await pool.send({
        method: 'POST',
        path: `/api/v2/instance/${INSTANCE}/media/directly-download?timeout=${MAX_WAIT_MS}`,
        headers: { authorization: `Bearer ${suite.stack.token(INSTANCE)}`, 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify({ contentType: first!.contentType, content: { directPath: first!.directPath, mediaKey: first!.mediaKey } })),
      });
    }
    expect(download!.status, download!.body.toString().slice(0, 300)).toBe(200);
    expect(download!.body.equals(first!.plaintext)).toBe(true);

    // Nothing crashed, nothing uncaught, nothing the API took for its own bug.
    for (const service of suite.stack.processes) {
      expect(service.running, `${service.name} exited\n${service.describe()}`).toBe(true);
      expect(service.stderr, `${service.name} wrote to stderr`).not.toMatch(/uncaught|unhandled|fatal|RangeError|TypeError|heap/i);
      expect(service.logs.filter((line) => line.level >= 60), `${service.name} logged fatal lines`).toEqual([]);
    }
    const errors = suite.stack.api.logs.filter((line) => line.level >= 50);
    expect(errors.map((line) => JSON.stringify(line).slice(0, 500)), 'the API logged errors').toEqual([]);

    // Heaps grow to a working size and stay there; a leak keeps growing with the request count.
    if (warm !== undefined && end !== undefined) {
      expect(end - warm, `VmRSS grew from ${mib(warm)} to ${mib(end)}`).toBeLessThan(256 * 2 ** 20);
    }
  }, 60_000);
});
