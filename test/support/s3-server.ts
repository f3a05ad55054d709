/**
 * One interface over the S3 servers the tests can start: s3rver in this process, and the S3 of
 * the run's containers (MinIO, or the s3rver stand-in scripts/test-images.sh builds). Suites
 * create their buckets and look past the store through it, signed like any S3 client.
 *
 * The servers differ where s3rver departs from S3: those departures are named in one quirk
 * table (S3RVER_QUIRKS) and a test works around one only where the server has it.
 */
import { unlink } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { inject } from 'vitest';
import { createS3Client, type S3Settings } from '@wamedia/server';
import { ageFiles } from './age-files.js';
import type { ContainerS3Address } from './containers.js';
import { listFiles } from './list-files.js';

/** Where an S3 server departs from S3 in ways the tests meet. */
export interface S3Quirks {
  /** It reads `Range: bytes=0-0` as "from 0 to the end": an end of 0 is taken for no end. */
  singleByteRangeAtZeroIgnored: boolean;
  /**
   * CopyObject rewrites the target in place, so a read racing a second copy to the same key can
   * find it missing (S3 and MinIO replace objects atomically).
   */
  copyObjectNotAtomic: boolean;
  /** It has no ListMultipartUploads: unfinished uploads are seen only in its folder, if at all. */
  noListMultipartUploads: boolean;
}

export const S3RVER_QUIRKS: Readonly<S3Quirks> = {
  singleByteRangeAtZeroIgnored: true,
  copyObjectNotAtomic: true,
  noListMultipartUploads: true,
};
const NO_QUIRKS: Readonly<S3Quirks> = { singleByteRangeAtZeroIgnored: false, copyObjectNotAtomic: false, noListMultipartUploads: false };

/** A file of `storedFiles` that is an unfinished multipart upload rather than an object. */
export function isUnfinishedUpload(file: string): boolean {
  return file.includes('._S3rver_uploads') || file.startsWith('multipart-uploads/');
}

export interface S3Server {
  /** What it is, for test titles and messages. */
  readonly label: string;
  readonly endpoint: string;
  readonly quirks: Readonly<S3Quirks>;
  /** Settings for a store (or a wamedia process) on `bucket` of this server. */
  settings(bucket: string): S3Settings;
  createBucket(bucket: string): Promise<void>;
  /** The keys of `bucket` under `prefix`, sorted. */
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  /**
   * Everything `bucket` holds, sorted: its keys, and each unfinished multipart upload (see
   * isUnfinishedUpload) where the server lets it be seen.
   */
  storedFiles(bucket: string): Promise<string[]>;
  readObject(bucket: string, key: string): Promise<Readable>;
  /**
   * Makes these objects look last written `ms` earlier, past the store; undefined where the
   * server keeps its times out of reach (a container): a test then moves its own clock instead.
   */
  readonly ageObjects: ((bucket: string, keys: string[], ms: number) => Promise<void>) | undefined;
  /** Lets go of the server: stops it when this process started it. */
  close(): Promise<void>;
}

/** What startS3Server gives in this run, known before any server starts (for test titles). */
export function runS3Server(): { label: string; quirks: Readonly<S3Quirks> } {
  const address = inject('testContainers')?.s3;
  if (!address) return { label: 's3rver in process', quirks: S3RVER_QUIRKS };
  return { label: containerLabel(address), quirks: containerQuirks(address) };
}

const containerLabel = (address: ContainerS3Address) => `${address.image} in a container`;
const containerQuirks = (address: ContainerS3Address) => (address.flavour === 's3rver' ? S3RVER_QUIRKS : NO_QUIRKS);

/** The S3 of the run's containers when it has them, else an s3rver started here over `dir`. */
export async function startS3Server(dir: string, buckets: string[] = []): Promise<S3Server> {
  const address = inject('testContainers')?.s3;
  const server = address ? new ContainerS3(address) : await InProcessS3rver.start(dir);
  for (const bucket of buckets) await server.createBucket(bucket);
  return server;
}

/** What both kinds do the same way: through a signed S3 client. */
abstract class SignedS3 implements S3Server {
  abstract readonly label: string;
  abstract readonly endpoint: string;
  abstract readonly quirks: Readonly<S3Quirks>;
  abstract readonly ageObjects: S3Server['ageObjects'];
  protected abstract readonly credentials: { accessKeyId: string; secretAccessKey: string };
  private clientOf: S3Client | undefined;

  settings(bucket: string): S3Settings {
    return { endpoint: this.endpoint, publicEndpoint: undefined, region: 'us-east-1', bucket, ...this.credentials, forcePathStyle: true };
  }

  protected get client(): S3Client {
    this.clientOf ??= createS3Client(this.settings('unused'));
    return this.clientOf;
  }

  async createBucket(bucket: string): Promise<void> {
    await this.client.send(new CreateBucketCommand({ Bucket: bucket }));
  }

  async listKeys(bucket: string, prefix = ''): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: bucket, Prefix: prefix })) {
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    }
    return keys.sort();
  }

  async storedFiles(bucket: string): Promise<string[]> {
    const files = await this.listKeys(bucket);
    if (!this.quirks.noListMultipartUploads) {
      const { Uploads = [] } = await this.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      for (const upload of Uploads) files.push(`multipart-uploads/${upload.Key}/${upload.UploadId}`);
    }
    return files.sort();
  }

  async readObject(bucket: string, key: string): Promise<Readable> {
    const { Body } = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Body as Readable;
  }

  async close(): Promise<void> {
    this.clientOf?.destroy();
    this.clientOf = undefined;
  }
}

/** The run's container S3: it outlives the suite, which only lets go of its client. */
export class ContainerS3 extends SignedS3 {
  readonly label: string;
  readonly endpoint: string;
  readonly quirks: Readonly<S3Quirks>;
  readonly ageObjects = undefined;
  protected readonly credentials: { accessKeyId: string; secretAccessKey: string };

  constructor(address: ContainerS3Address) {
    super();
    this.label = containerLabel(address);
    this.endpoint = address.endpoint;
    this.quirks = containerQuirks(address);
    this.credentials = { accessKeyId: address.accessKeyId, secretAccessKey: address.secretAccessKey };
  }
}

/** An s3rver in this process on 127.0.0.1 over a folder; it can be stopped and started again. */
export class InProcessS3rver extends SignedS3 {
  readonly label = 's3rver in process';
  readonly quirks = S3RVER_QUIRKS;
  /** s3rver's fixed credentials. */
  protected readonly credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

  private constructor(
    /** The folder s3rver keeps its buckets in: `<dir>/<bucket>/<key>._S3rver_object`. */
    readonly dir: string,
    private server: S3rver,
    private readonly port: number,
  ) {
    super();
  }

  /** Starts an s3rver over `dir` on `port` (0: a free one). */
  static async start(dir: string, port = 0): Promise<InProcessS3rver> {
    const { server, port: bound } = await runS3rver(dir, port);
    return new InProcessS3rver(dir, server, bound);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** s3rver answers LastModified from the mtime of the file holding the object. */
  readonly ageObjects = (bucket: string, keys: string[], ms: number): Promise<void> =>
    ageFiles(
      keys.map((key) => this.objectFile(bucket, key)),
      ms,
    );

  /** The file holding the bytes of `key`. */
  objectFile(bucket: string, key: string): string {
    return path.join(this.dir, bucket, `${key}._S3rver_object`);
  }

  /**
   * Read from its folder, which also shows unfinished uploads (s3rver has no
   * ListMultipartUploads) and can be read while the server is stopped.
   */
  override async storedFiles(bucket: string): Promise<string[]> {
    const files: string[] = [];
    for (const file of await listFiles(path.join(this.dir, bucket))) {
      if (file.includes('._S3rver_uploads')) files.push(file);
      else if (file.endsWith('._S3rver_object')) files.push(file.slice(0, -'._S3rver_object'.length));
    }
    return files.sort();
  }

  /**
   * Takes the server away at once, as an S3 outage does: its listener closes and every open
   * connection is cut. The folder stays; {@link restart} brings it back.
   */
  async stop(): Promise<void> {
    const http = (this.server as unknown as { httpServer?: { closeAllConnections(): void } }).httpServer;
    const closed = this.server.close();
    http?.closeAllConnections();
    await closed;
  }

  /** Starts the server again on the same port, over the same folder. */
  async restart(): Promise<void> {
    this.server = (await runS3rver(this.dir, this.port)).server;
  }

  override async close(): Promise<void> {
    await super.close();
    await this.server.close().catch(() => undefined);
  }
}

async function runS3rver(dir: string, port: number): Promise<{ server: S3rver; port: number }> {
  const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory: dir });
  keepEmptyFolders(server);
  const address = (await server.run()) as AddressInfo;
  return { server, port: address.port };
}

/**
 * s3rver's DeleteObject removes the object's folder once it is empty. A PutObject into the same
 * folder at that moment (the store writes and deletes temporaries side by side, all the time)
 * then opens its file in a folder that is gone: an ENOENT on a stream s3rver has no error
 * listener on, which is an uncaught exception in this (the test) process. Real S3 has no
 * folders; here they are simply left in place. (The stand-in image's entry does the same.)
 */
function keepEmptyFolders(server: S3rver): void {
  const store = (server as unknown as { store: S3rverFilesystemStore }).store;
  store.deleteObject = async (bucket, key) => {
    const files = ['object', 'object.md5', 'metadata.json'].map((kind) => store.getResourcePath(bucket, key, kind));
    await Promise.all(
      files.map((file) =>
        unlink(file).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        }),
      ),
    );
  };
}

/** The part of s3rver's (untyped) filesystem store that keepEmptyFolders replaces. */
interface S3rverFilesystemStore {
  getResourcePath(bucket: string, key: string, kind: string): string;
  deleteObject(bucket: string, key: string): Promise<void>;
}
