import type { StorageSettings } from '../config.js';
import type { BlobStore } from './blob-store.js';
import { FsBlobStore } from './fs-store.js';
import { S3BlobStore, createS3Client } from './s3-store.js';

/** The BlobStore the configuration asks for: a folder, or an S3 bucket with its own client. */
export function createBlobStore(settings: StorageSettings): BlobStore {
  return settings.kind === 's3'
    ? new S3BlobStore(createS3Client(settings), settings.bucket)
    : new FsBlobStore(settings.dir);
}
