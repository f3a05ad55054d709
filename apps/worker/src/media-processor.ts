import { pipeline } from 'node:stream';
import type { Job } from 'bullmq';
import { type BlobStore, type JobSecrets, type Logger, type MediaIndex } from '@wamedia/server';
import {
  InternalError,
  MediaTooLargeError,
  createDecryptStream,
  createPlainVerifyStream,
  defaultMimetype,
  downloadJobSchema,
  plainMediaLookupKey,
  type DecryptStream,
  type DownloadJobData,
  type DownloadJobResult,
  type PlainVerifyStream,
} from '@wamedia/shared';
import type { CdnClient, MediaRef } from './cdn-client.js';
import { assertPlausibleLength, blameTransfer, encryptedLength } from './declared-length.js';
import type { WorkerMetrics } from './worker-metrics.js';

export interface MediaProcessorDeps {
  cdn: CdnClient;
  store: BlobStore;
  index: MediaIndex;
  /** MAX_MEDIA_BYTES: a declared fileLength above it fails before any download. */
  maxMediaBytes: number;
  logger: Logger;
  metrics: WorkerMetrics;
  /** Opens the job's sealed mediaKey (JOB_DATA_KEY, the same as the API's). */
  secrets: JobSecrets;
}

/** Options of one {@link MediaProcessor.process} call. */
export interface ProcessOptions {
  /** Aborts the download (the worker is shutting down). */
  signal?: AbortSignal;
  /** Where to fetch the media instead of the request's references: the directPath of a re-upload by the phone. */
  from?: MediaRef;
  /**
   * Resolves while the attempt still holds the job's lock, throws (LockLostError) once it lost
   * it: asked right before publishing, so only the job's holder ever publishes its result.
   */
  holdLock?: () => Promise<void>;
}

/**
 * One download job: cache re-check → CDN → one streaming pass of decrypt and verify (or, for
 * channel media, which is not encrypted, of verify alone) into a temporary object → publish
 * under the sha256 → index. Nothing unverified is ever published, nor anything by an attempt
 * that lost the job's lock (its temporary object is discarded).
 * Throws wamedia errors; the worker decides what is final.
 */
export class MediaProcessor {
  constructor(private readonly deps: MediaProcessorDeps) {}

  async process(job: Job<DownloadJobData, DownloadJobResult>, { signal, from, holdLock }: ProcessOptions = {}): Promise<DownloadJobResult> {
    const data = downloadJobSchema.parse(job.data);
    const log = this.deps.logger.child({ jobId: job.id, requestId: data.requestId, attempt: job.attemptsMade + 1 });
    const cached = await this.deps.index.get(data.lookupKey);
    if (cached) {
      log.info({ sha256: cached.sha256 }, 'already stored; no download');
      // Served with this request's Content-Type (the API filled in the default), not the first one's.
      return { ...cached, mimetype: data.mimetype, cached: true };
    }
    if (data.fileLength !== undefined && data.fileLength > this.deps.maxMediaBytes) {
      throw new MediaTooLargeError(this.deps.maxMediaBytes);
    }
    const check = this.checkStage(data);
    if (from) log.info('downloading the media the phone re-uploaded');
    const ref = from ?? { directPath: data.directPath, url: data.url };
    const stored = await this.downloadAndStore(ref, check, data, signal, holdLock).catch((error: unknown) => {
      // The CDN client counts .enc bytes against a larger limit (see maxEncryptedBytes): name the configured one.
      throw error instanceof MediaTooLargeError ? new MediaTooLargeError(this.deps.maxMediaBytes) : error;
    });
    // The index is shared by every instance: it records the type's own mimetype, never a
    // requester's (each request is served with its own, see the API's media service).
    const entry = { sha256: stored.sha256, size: stored.size, mimetype: defaultMimetype(data.contentType) };
    await this.deps.index.put(data.lookupKey, entry);
    log.info({ sha256: entry.sha256, size: entry.size, seconds: stored.seconds }, 'media stored');
    return { ...entry, mimetype: data.mimetype, cached: false };
  }

  /**
   * The stream stage that checks this job's download: decrypt-and-verify under the mediaKey, or,
   * for channel media, verify by fileSha256 alone.
   */
  private checkStage(data: DownloadJobData): DecryptStream | PlainVerifyStream {
    const fileSha256 = data.fileSha256 ? Buffer.from(data.fileSha256, 'base64') : undefined;
    const fileEncSha256 = data.fileEncSha256 ? Buffer.from(data.fileEncSha256, 'base64') : undefined;
    if (data.plain) {
      // Filed under its hash's plain key only: even altered job data cannot put unencrypted bytes
      // under the key of an encrypted media (see plainMediaLookupKey).
      if (!fileSha256 || plainMediaLookupKey(fileSha256) !== data.lookupKey) {
        throw new InternalError('channel media job without a fileSha256 matching its lookup key');
      }
      return createPlainVerifyStream({ fileSha256, fileEncSha256, fileLength: data.fileLength });
    }
    if (!data.mediaKey) throw new InternalError('job has no mediaKey left (it already ended)');
    // Opened only here, for this attempt: the clear key lives in this process's memory, never in Redis.
    const mediaKey = this.deps.secrets.open(data.mediaKey, data.lookupKey);
    return createDecryptStream({ contentType: data.contentType, mediaKey, fileSha256, fileEncSha256, fileLength: data.fileLength });
  }

  /** Of `data`: `plain` (a channel media: the plaintext, not a .enc) and `fileLength` (the .enc's length follows from it). */
  private async downloadAndStore(
    ref: MediaRef,
    check: DecryptStream | PlainVerifyStream,
    { plain, fileLength }: Pick<DownloadJobData, 'plain' | 'fileLength'>,
    signal?: AbortSignal,
    holdLock: () => Promise<void> = async () => undefined,
  ) {
    const started = performance.now();
    const response = await this.deps.cdn.open(ref, signal);
    this.deps.metrics.cdnResponded((performance.now() - started) / 1000);
    if (!plain) {
      // A channel media is the plaintext itself: any length is plausible. Only a .enc has a shape.
      try {
        assertPlausibleLength(response.contentLength, response.url);
      } catch (error) {
        response.body.destroy();
        throw error;
      }
    }
    // A CDN error destroys the check stage with it, so writeTemp sees it and cleans up.
    const plaintext = pipeline(response.body, check, () => undefined);
    const temp = await this.deps.store.writeTemp(plaintext).catch((error: unknown) => {
      throw plain ? error : blameTransfer(error, response.contentLength, fileLength, response.url);
    });
    const digest = check.result;
    if (!digest) {
      await this.deps.store.discard(temp);
      throw new InternalError('the check stage ended without a verification result');
    }
    // The CDN client's limit is on the .enc (see maxEncryptedBytes), up to 26 bytes more than this.
    if (digest.length > this.deps.maxMediaBytes) {
      await this.deps.store.discard(temp);
      throw new MediaTooLargeError(this.deps.maxMediaBytes);
    }
    const sha256 = digest.sha256.toString('hex');
    // Verified, but perhaps late: a worker cut off from Redis while it downloaded may have lost
    // the job to another one, whose result is (or will be) the one published.
    await holdLock().catch(async (error: unknown) => {
      await this.deps.store.discard(temp);
      throw error;
    });
    await this.deps.store.commit(temp, sha256);
    const seconds = (performance.now() - started) / 1000;
    this.deps.metrics.mediaStored(digest.encLength, seconds);
    return { sha256, size: digest.length, seconds };
  }
}

/**
 * The largest .enc of a plaintext of `maxMediaBytes`: PKCS#7 always pads (up to a whole 16-byte
 * block) and the MAC follows. Limiting the download at `maxMediaBytes` itself would refuse media
 * just under the limit; the plaintext's own length is checked after decryption.
 */
export function maxEncryptedBytes(maxMediaBytes: number): number {
  return encryptedLength(maxMediaBytes);
}
