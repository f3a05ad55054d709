import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Settings } from '@wamedia/server';
import { StorageUnavailableError } from '../../packages/shared/src/errors.js';
import { S3BlobStore, createS3Client } from '@wamedia/server';
import { ageFiles } from '../support/age-files.js';
import { describeBlobStoreContract } from './blob-store-contract.js';

/** The part of s3rver these tests use: the package ships no types. */
interface S3rver {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverOptions = { address: string; port: number; silent: boolean; directory: string };
const S3rver = createRequire(import.meta.url)('s3rver') as new (options: S3rverOptions) => S3rver;

let server: S3rver;
let serverDir: string;
let endpoint: string;
let client: ReturnType<typeof createS3Client>;
let buckets = 0;

function settings(at: string): S3Settings {
  return {
    endpoint: at,
    publicEndpoint: undefined,
    region: 'us-east-1',
    bucket: 'unused',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
  };
}

beforeAll(async () => {
  serverDir = await mkdtemp(join(tmpdir(), 'wamedia-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: serverDir });
  endpoint = `http://127.0.0.1:${(await server.run()).port}`;
  client = createS3Client(settings(endpoint));
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
  await rm(serverDir, { recursive: true, force: true });
});

// A bucket per test keeps the tests apart; s3rver's folder goes away with the server.
describeBlobStoreContract(
  'S3BlobStore',
  async () => {
    const bucket = `contract-${++buckets}`;
    await createBucket(bucket);
    return {
      store: new S3BlobStore(client, bucket),
      listTemps: () => listKeys(bucket, 'tmp/'),
      // s3rver answers LastModified from the mtime of the file holding the object.
      ageTemps: async (ms) =>
        ageFiles((await listKeys(bucket, 'tmp/')).map((key) => join(serverDir, bucket, `${key}._S3rver_object`)), ms),
      listBlobs: () => listKeys(bucket, 'sha256/'),
    };
  },
  { noSingleByteRangeAtZero: true },
);

describe('S3BlobStore', () => {
  it('reports a stopped server as StorageUnavailableError', async () => {
    const stoppedDir = await mkdtemp(join(tmpdir(), 'wamedia-s3rver-'));
    const stopped = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: stoppedDir });
    const stoppedClient = createS3Client(settings(`http://127.0.0.1:${(await stopped.run()).port}`));
    await stopped.close();
    try {
      const store = new S3BlobStore(stoppedClient, 'nowhere');
      await expect(store.ping()).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(store.ping()).rejects.toThrow(/failed to reach the bucket \(ECONNREFUSED\)/);
      await expect(store.stat('a'.repeat(64))).rejects.toBeInstanceOf(StorageUnavailableError);
    } finally {
      stoppedClient.destroy();
      await rm(stoppedDir, { recursive: true, force: true });
    }
  });

  it('reports a missing bucket as StorageUnavailableError on ping', async () => {
    await expect(new S3BlobStore(client, 'never-created').ping()).rejects.toBeInstanceOf(StorageUnavailableError);
  });
});

/** Creates a bucket with a plain request (s3rver accepts unsigned ones): production buckets are provisioned. */
async function createBucket(bucket: string): Promise<void> {
  const response = await fetch(`${endpoint}/${bucket}`, { method: 'PUT' });
  expect(response.status).toBe(200);
}

/** Lists keys with a plain request (s3rver accepts unsigned ones), to look past the store. */
async function listKeys(bucket: string, prefix: string): Promise<string[]> {
  const response = await fetch(`${endpoint}/${bucket}?list-type=2&prefix=${encodeURIComponent(prefix)}`);
  expect(response.status).toBe(200);
  return [...(await response.text()).matchAll(/<Key>([^<]*)<\/Key>/g)].map((match) => match[1]!);
}
