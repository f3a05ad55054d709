import type { StorageSettings } from '../config.js';
import type { BlobStore } from './blob-store.js';
import { FsBlobStore } from './fs-store.js';

/**
 * The BlobStore the configuration asks for: a folder, or an S3 bucket with its own client. The
 * S3 store is loaded only when asked for: the AWS SDK alone is some 20 MiB of a process's memory.
 */
export async function createBlobStore(settings: StorageSettings): Promise<BlobStore> {
  if (settings.kind === 'fs') return new FsBlobStore(settings.dir);
  const { S3BlobStore, createS3Client } = await import('./s3-store.js');
  return new S3BlobStore(createS3Client(settings), settings.bucket);
}
