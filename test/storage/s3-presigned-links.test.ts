/**
 * Presigned links against the S3 server the suites run (s3rver), fetched with a plain HTTP client
 * and no credentials: the verified bytes come back with the type and file name the link sets,
 * ranges work, and an expired link is refused by S3 itself.
 *
 * s3rver checks a presigned URL's expiry but not its SigV4 signature (it does not implement V4
 * verification), so tampering is not refused here; S3 and MinIO refuse it. The signature is the
 * AWS SDK's own presigner's.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore, S3PresignedLinks, createMediaLinks, createS3Client, loadConfig, type S3Settings } from '@wamedia/server';
import { mediaFileName } from '@wamedia/shared';

interface S3rver {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverOptions = { address: string; port: number; silent: boolean; directory: string; configureBuckets: { name: string }[] };
const S3rver = createRequire(import.meta.url)('s3rver') as new (options: S3rverOptions) => S3rver;

const BUCKET = 'links';
const bytes = randomBytes(50_000);
const sha256 = createHash('sha256').update(bytes).digest('hex');
const target = { sha256, size: bytes.length, mimetype: 'audio/ogg; codecs=opus', fileName: mediaFileName('ptt', sha256, 'audio/ogg') };

let server: S3rver;
let serverDir: string;
let settings: S3Settings;
let client: ReturnType<typeof createS3Client>;

beforeAll(async () => {
  serverDir = await mkdtemp(join(tmpdir(), 'wamedia-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: serverDir, configureBuckets: [{ name: BUCKET }] });
  const endpoint = `http://127.0.0.1:${(await server.run()).port}`;
  settings = { endpoint, publicEndpoint: undefined, region: 'us-east-1', bucket: BUCKET, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true };
  client = createS3Client(settings);
  // Stored as the workers store: a temporary object, committed under its SHA-256.
  const store = new S3BlobStore(client, BUCKET);
  await store.commit(await store.writeTemp(Readable.from([bytes])), sha256);
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
  await rm(serverDir, { recursive: true, force: true });
});

describe('S3PresignedLinks on s3rver', () => {
  it('gives a URL that serves the stored bytes, with the link\'s type and file name, to a client without credentials', async () => {
    const link = await new S3PresignedLinks(client, BUCKET).link(target, { ttlSeconds: 300, origin: 'http://unused' });
    expect(link).toMatchObject({ sha256, size: bytes.length, mimetype: target.mimetype, fileName: target.fileName });
    const url = new URL(link.url);
    expect(url.pathname).toBe(`/${BUCKET}/sha256/${sha256}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(Date.parse(link.expiresAt) - Date.now()).toBeGreaterThan(290_000);

    const response = await fetch(link.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('audio/ogg; codecs=opus');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename=${target.fileName}`);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('serves a Range of it', async () => {
    const link = await new S3PresignedLinks(client, BUCKET).link(target, { ttlSeconds: 60, origin: 'http://unused' });
    const response = await fetch(link.url, { headers: { range: 'bytes=100-199' } });
    expect(response.status).toBe(206);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
  });

  it('is refused by S3 once expired', async () => {
    // Signed two hours ago for one: no waiting for a clock.
    const signedEarlier = new S3PresignedLinks(client, BUCKET, () => Date.now() - 2 * 3600_000);
    const link = await signedEarlier.link(target, { ttlSeconds: 3600, origin: 'http://unused' });
    expect(Date.parse(link.expiresAt)).toBeLessThan(Date.now());
    const response = await fetch(link.url);
    expect(response.status).toBe(403);
    expect(await response.text()).toMatch(/expired/i);
  });

  it('is what createMediaLinks makes for S3 storage, on S3_PUBLIC_ENDPOINT when set', async () => {
    const base = { JWT_SECRET: 'a-jwt-secret-of-some-length', STORAGE: 's3', S3_BUCKET: BUCKET, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER', S3_FORCE_PATH_STYLE: 'true' };
    const links = createMediaLinks(loadConfig({ ...base, S3_ENDPOINT: 'http://s3.internal:9000', S3_PUBLIC_ENDPOINT: settings.endpoint }));
    const link = await links.link(target, { ttlSeconds: 60, origin: 'http://unused' });
    expect(link.url.startsWith(`${settings.endpoint}/${BUCKET}/sha256/${sha256}?`)).toBe(true);
    expect(Buffer.from(await (await fetch(link.url)).arrayBuffer()).equals(bytes)).toBe(true);
  });
});
