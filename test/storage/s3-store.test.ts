import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { StorageUnavailableError } from '../../packages/shared/src/errors.js';
import { S3BlobStore, createS3Client } from '@wamedia/server';
import { InProcessS3rver, type S3Server } from '../support/s3-server.js';
import { describeBlobStoreContract } from './blob-store-contract.js';
import { s3ServerCases } from './s3-servers.js';

const { cases, missing } = s3ServerCases();

describe.each(cases)('S3BlobStore on $label', (serverCase) => {
  let server: S3Server;
  let serverDir: string;
  let client: ReturnType<typeof createS3Client>;
  // A server in a container outlives this file: bucket names no other run of it has used.
  const run = randomBytes(4).toString('hex');
  let buckets = 0;

  beforeAll(async () => {
    serverDir = await mkdtemp(join(tmpdir(), 'wamedia-s3-'));
    server = await serverCase.start(serverDir);
    client = createS3Client(server.settings('unused'));
  });

  afterAll(async () => {
    client?.destroy();
    await server?.close();
    await rm(serverDir, { recursive: true, force: true });
  });

  // A bucket per test keeps the tests apart.
  describeBlobStoreContract(
    'S3BlobStore',
    async () => {
      const bucket = `contract-${run}-${++buckets}`;
      await server.createBucket(bucket);
      return {
        store: new S3BlobStore(client, bucket),
        listTemps: () => server.listKeys(bucket, 'tmp/'),
        ageTemps: async (ms) => {
          const temps = await server.listKeys(bucket, 'tmp/');
          if (server.ageObjects) return server.ageObjects(bucket, temps, ms);
          // The server's times are out of reach: the store's clock (this process's) moves on
          // instead. Minutes, well within the skew S3 signatures allow.
          vi.useFakeTimers({ toFake: ['Date'] });
          vi.setSystemTime(Date.now() + ms);
        },
        listBlobs: () => server.listKeys(bucket, 'sha256/'),
        dispose: async () => {
          vi.useRealTimers();
        },
      };
    },
    { noSingleByteRangeAtZero: serverCase.quirks.singleByteRangeAtZeroIgnored },
  );

  it('reports a missing bucket as StorageUnavailableError on ping', async () => {
    await expect(new S3BlobStore(client, 'never-created').ping()).rejects.toBeInstanceOf(StorageUnavailableError);
  });
});

describe.each(missing)('S3BlobStore on %s', (why) => {
  it.skip(`skipped: ${why}`, () => undefined);
});

describe('S3BlobStore', () => {
  it('reports a stopped server as StorageUnavailableError', async () => {
    const stoppedDir = await mkdtemp(join(tmpdir(), 'wamedia-s3rver-'));
    const stopped = await InProcessS3rver.start(stoppedDir);
    const stoppedClient = createS3Client(stopped.settings('nowhere'));
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
});
