import type { MediaIndexEntry } from '@wamedia/server';
import { defaultMimetype, hintMismatch, type DownloadJobData, type DownloadRequest, type ErrorCode, type MediaHints } from '@wamedia/shared';
import type { JobOutcome } from './job-waiter.js';
import type { MediaFile } from './ready-media.js';

/**
 * A request's own integrity hints (its fileSha256 and fileLength) against a result verified
 * before it: a cache hit, or a job that another request started. Kept apart from MediaService,
 * which needs Redis and a store, so these checks are proven by fast unit tests.
 */

/**
 * A cache hit as a media file; it still has to agree with the hashes the client sent. Served
 * with this request's mimetype, else the type's default: the shared index's record is not a
 * requester's to decide (older records may hold one).
 * @throws Sha256MismatchError or LengthMismatchError when the request's hints disagree.
 */
export function fromCache(entry: MediaIndexEntry, request: DownloadRequest): MediaFile {
  const { content, contentType } = request;
  checkHints(request, entry);
  return { sha256: entry.sha256, size: entry.size, contentType, mimetype: content.mimetype ?? defaultMimetype(contentType) };
}

/** The request's own fileSha256 and fileLength against what was verified and stored. */
export function checkHints({ content }: DownloadRequest, stored: { sha256: string; size: number }): void {
  const failure = hintMismatch(hintsOf(content), stored);
  if (failure) throw failure;
}

/** What a request's content claims about its media. */
export function hintsOf(content: DownloadRequest['content']): MediaHints {
  return { sha256: content.fileSha256?.toString('hex'), size: content.fileLength };
}

/** Failures a request's hints cause (its hashes or length), not the media or the CDN. */
const HINT_FAILURES: ReadonlySet<ErrorCode> = new Set(['SHA256_MISMATCH', 'LENGTH_MISMATCH', 'ENC_SHA256_MISMATCH']);

/**
 * Whether the job a request joined failed on hints its starter gave that differ from this
 * request's own: the media itself may be fine, and this request deserves an attempt of its own.
 */
export function failedOnOthersHints(outcome: JobOutcome, job: DownloadJobData, mine: DownloadJobData): boolean {
  if (outcome.state !== 'failed' || !HINT_FAILURES.has(outcome.error.code)) return false;
  return job.fileSha256 !== mine.fileSha256 || job.fileEncSha256 !== mine.fileEncSha256 || job.fileLength !== mine.fileLength;
}
