import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Settings } from '../config.js';
import { InternalError, StorageUnavailableError } from '@wamedia/shared';
import type { BlobInfo, BlobStore, ByteRange, TempBlob } from './blob-store.js';
import { assertRecordName, assertSha256, assertTempKey } from './store-names.js';

const MiB = 1024 * 1024;
// lib-storage buffers each part whole, so one writeTemp holds about (QUEUE_SIZE + 1) × PART_SIZE.
const PART_SIZE = 8 * MiB;
const QUEUE_SIZE = 2;
const TEMP_PREFIX = 'tmp/';

/** An S3 client set up for wamedia's store: path style as configured, no default checksums. */
export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    // The SDK's default CRC trailers on streamed uploads end up inside the object on MinIO-likes
    // and s3rver, so checksums are sent and checked only where an operation requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: 5_000,
      // Every download being served holds a socket until its client has read it all; the
      // default of 50 would queue the 51st behind the slowest readers.
      httpAgent: { keepAlive: true, maxSockets: 256 },
      httpsAgent: { keepAlive: true, maxSockets: 256 },
    },
  });
}

/**
 * A BlobStore in an S3 bucket: blobs at `sha256/<hex>`, temporaries at `tmp/<uuid>`, records
 * at `records/<name>`. Incomplete multipart uploads are not objects and removeStaleTemps does
 * not see them: give the bucket an AbortIncompleteMultipartUpload lifecycle rule.
 */
export class S3BlobStore implements BlobStore {
  /**
   * @param client from createS3Client; close() destroys it.
   * @param bucket the bucket holding everything.
   */
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async writeTemp(source: Readable): Promise<TempBlob> {
    const key = randomUUID();
    const tap = new SourceTap(source);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: tempObjectKey(key), Body: tap.body },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
    });
    try {
      await upload.done();
      return { key, size: tap.size };
    } catch (error) {
      await this.deleteObject(tempObjectKey(key)).catch(() => undefined);
      // When the source fails after the first part, Upload aborts the multipart upload and, if
      // that abort fails too (s3rver cannot abort), rejects with the abort's error instead.
      throw tap.failure ? tap.failure.error : unavailable('upload a temporary object', error);
    }
  }

  async commit(temp: TempBlob, sha256: string): Promise<void> {
    const from = tempObjectKey(temp.key);
    const to = blobObjectKey(sha256);
    if (!(await this.stat(sha256))) {
      // CopyObject makes the object visible whole, never partly; two concurrent commits copy
      // the same verified bytes, so the second one rewrites nothing that matters. It takes
      // objects up to 5 GiB: a MAX_MEDIA_BYTES above that would need UploadPartCopy.
      await this.call('publish a blob', () =>
        this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: `${this.bucket}/${from}` })),
      );
    }
    await this.deleteObject(from);
  }

  async discard(temp: TempBlob): Promise<void> {
    await this.deleteObject(tempObjectKey(temp.key));
  }

  async stat(sha256: string): Promise<BlobInfo | undefined> {
    const key = blobObjectKey(sha256);
    const head = await this.unlessMissing('stat a blob', () =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })),
    );
    return head && { size: head.ContentLength ?? 0 };
  }

  async read(sha256: string, range?: ByteRange): Promise<Readable> {
    const key = blobObjectKey(sha256);
    const object = await this.call('read a blob', () =>
      this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range && `bytes=${range.start}-${range.end}` }),
      ),
    );
    if (!(object.Body instanceof Readable)) {
      throw new InternalError('the S3 client returned a body that is not a Node stream');
    }
    return object.Body;
  }

  async putRecord(name: string, body: string): Promise<void> {
    const key = recordObjectKey(name);
    await this.call('write a record', () =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }),
      ),
    );
  }

  async getRecord(name: string): Promise<string | undefined> {
    const key = recordObjectKey(name);
    return this.unlessMissing('read a record', async () => {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await object.Body?.transformToString('utf-8')) ?? '';
    });
  }

  async ping(): Promise<void> {
    await this.call('reach the bucket', () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /**
   * Removes temporaries older than `olderThanMs`: what a killed process left. A multipart
   * object's LastModified is when its upload *started*, so choose an age well above the
   * longest upload.
   *
   * @returns how many temporaries were removed.
   */
  async removeStaleTemps(olderThanMs: number): Promise<number> {
    const stale = await this.call('list temporary objects', () => this.tempKeysBefore(Date.now() - olderThanMs));
    for (const key of stale) await this.deleteObject(key);
    return stale.length;
  }

  private async tempKeysBefore(cutoffMs: number): Promise<string[]> {
    const keys: string[] = [];
    const pages = paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: TEMP_PREFIX });
    for await (const page of pages) {
      for (const object of page.Contents ?? []) {
        if (object.Key && object.LastModified && object.LastModified.getTime() < cutoffMs) keys.push(object.Key);
      }
    }
    return keys;
  }

  private async deleteObject(key: string): Promise<void> {
    // S3 answers a delete of a missing key with success: discarding twice is harmless.
    await this.call('remove an object', () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
    );
  }

  /** Runs `op`, reporting any failure as StorageUnavailableError. */
  private async call<T>(action: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      throw unavailable(action, error);
    }
  }

  /** Runs `op`; undefined when S3 says the key or bucket is not there. */
  private async unlessMissing<T>(action: string, op: () => Promise<T>): Promise<T | undefined> {
    try {
      return await op();
    } catch (error) {
      if (error instanceof NotFound || error instanceof NoSuchKey) return undefined;
      throw unavailable(action, error);
    }
  }
}

/**
 * Passes a source's chunks on unchanged, counting them, and remembers the source's own failure
 * so that writeTemp rethrows it as itself whatever Upload rejects with.
 */
class SourceTap {
  size = 0;
  failure: { error: unknown } | undefined;
  readonly body: Readable;

  constructor(source: Readable) {
    this.body = Readable.from(this.chunks(source), { objectMode: false });
  }

  private async *chunks(source: Readable): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of source as AsyncIterable<Uint8Array>) {
        this.size += chunk.byteLength;
        yield chunk;
      }
    } catch (error) {
      this.failure = { error };
      throw error;
    }
  }
}

function tempObjectKey(key: string): string {
  assertTempKey(key);
  return `${TEMP_PREFIX}${key}`;
}

/** The key of the blob stored under `sha256`. */
export function blobObjectKey(sha256: string): string {
  assertSha256(sha256);
  return `sha256/${sha256}`;
}

function recordObjectKey(name: string): string {
  assertRecordName(name);
  return `records/${name}`;
}

function unavailable(action: string, error: unknown): StorageUnavailableError {
  // S3 errors carry their code in `name`, network errors theirs in `code` (ECONNREFUSED, ...).
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  const reason = typeof code === 'string' ? code : typeof name === 'string' ? name : 'unknown error';
  return new StorageUnavailableError(`storage unavailable: failed to ${action} (${reason})`, { cause: error });
}
