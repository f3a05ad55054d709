import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  JobFailedError,
  LengthMismatchError,
  Sha256MismatchError,
  type DownloadJobData,
  type DownloadRequest,
  type ErrorCode,
} from '@wamedia/shared';
import type { JobOutcome } from './job-waiter.js';
import { checkHints, failedOnOthersHints, fromCache, hintsOf } from './request-hints.js';

const fileSha256 = randomBytes(32);
const stored = { sha256: fileSha256.toString('hex'), size: 20_000, mimetype: 'image/png' };

function request(content: Partial<DownloadRequest['content']> = {}, contentType: DownloadRequest['contentType'] = 'image'): DownloadRequest {
  return { contentType, content: { directPath: '/v/t62/x.enc', mediaKey: randomBytes(32), ...content } };
}

describe('hintsOf', () => {
  it("says a request's fileSha256 in hex and its fileLength, and nothing it did not give", () => {
    expect(hintsOf(request({ fileSha256, fileLength: 12 }).content)).toEqual({ sha256: stored.sha256, size: 12 });
    expect(hintsOf(request().content)).toEqual({ sha256: undefined, size: undefined });
  });
});

describe('checkHints', () => {
  it('passes a request with no hints, or hints that agree', () => {
    expect(() => checkHints(request(), stored)).not.toThrow();
    expect(() => checkHints(request({ fileSha256, fileLength: stored.size }), stored)).not.toThrow();
    expect(() => checkHints(request({ fileLength: 0 }), { sha256: stored.sha256, size: 0 })).not.toThrow();
  });

  it('throws SHA256_MISMATCH for a wrong fileSha256 and LENGTH_MISMATCH for a wrong fileLength', () => {
    expect(() => checkHints(request({ fileSha256: randomBytes(32) }), stored)).toThrow(Sha256MismatchError);
    expect(() => checkHints(request({ fileSha256, fileLength: stored.size + 1 }), stored)).toThrow(LengthMismatchError);
    expect(() => checkHints(request({ fileLength: 0 }), stored)).toThrow(LengthMismatchError);
  });
});

describe('fromCache', () => {
  it("serves a cache hit under the request's own mimetype, else the type's default, never the index record's", () => {
    const hit = fromCache(stored, request({ fileSha256, fileLength: stored.size, mimetype: 'image/gif' }));
    expect(hit).toEqual({ sha256: stored.sha256, size: stored.size, contentType: 'image', mimetype: 'image/gif' });
    expect(fromCache(stored, request({}, 'sticker')).mimetype).toBe('image/webp');
    expect(fromCache(stored, request({}, 'document'))).toEqual({
      sha256: stored.sha256,
      size: stored.size,
      contentType: 'document',
      mimetype: 'application/octet-stream',
    });
  });

  it("refuses a cache hit that the request's own fileSha256 or fileLength disagrees with", () => {
    expect(() => fromCache(stored, request({ fileSha256: randomBytes(32) }))).toThrow(Sha256MismatchError);
    expect(() => fromCache(stored, request({ fileLength: stored.size - 1 }))).toThrow(LengthMismatchError);
  });
});

describe('failedOnOthersHints', () => {
  const starter = jobData({ fileSha256: 'a', fileEncSha256: 'b', fileLength: 10 });
  const failed = (code: ErrorCode): JobOutcome => ({ state: 'failed', error: new JobFailedError(code, 'failed') });

  function jobData(hints: Pick<DownloadJobData, 'fileSha256' | 'fileEncSha256' | 'fileLength'>): DownloadJobData {
    return { contentType: 'image', directPath: '/v/t62/x.enc', mimetype: 'image/jpeg', lookupKey: 'k'.repeat(64), instanceId: 'i', ...hints };
  }

  it("is true for a job failed on each kind of hint that differs from this request's", () => {
    for (const code of ['SHA256_MISMATCH', 'LENGTH_MISMATCH', 'ENC_SHA256_MISMATCH'] as const) {
      expect(failedOnOthersHints(failed(code), starter, jobData({ fileEncSha256: 'b', fileLength: 10 }))).toBe(true);
    }
    const outcome = failed('SHA256_MISMATCH');
    expect(failedOnOthersHints(outcome, starter, jobData({ fileSha256: 'x', fileEncSha256: 'b', fileLength: 10 }))).toBe(true);
    expect(failedOnOthersHints(outcome, starter, jobData({ fileSha256: 'a', fileEncSha256: 'x', fileLength: 10 }))).toBe(true);
    expect(failedOnOthersHints(outcome, starter, jobData({ fileSha256: 'a', fileEncSha256: 'b', fileLength: 11 }))).toBe(true);
    expect(failedOnOthersHints(outcome, starter, jobData({}))).toBe(true);
  });

  it("is false when this request's hints are the starter's: they are wrong for it too", () => {
    for (const code of ['SHA256_MISMATCH', 'LENGTH_MISMATCH', 'ENC_SHA256_MISMATCH'] as const) {
      expect(failedOnOthersHints(failed(code), starter, jobData({ fileSha256: 'a', fileEncSha256: 'b', fileLength: 10 }))).toBe(false);
    }
    expect(failedOnOthersHints(failed('SHA256_MISMATCH'), jobData({}), jobData({}))).toBe(false);
  });

  it('is false for a failure the media or the CDN caused, and for a completed job', () => {
    const mine = jobData({});
    for (const code of ['MAC_MISMATCH', 'MEDIA_EXPIRED', 'CDN_UNAVAILABLE'] as ErrorCode[]) {
      expect(failedOnOthersHints(failed(code), starter, mine)).toBe(false);
    }
    const completed: JobOutcome = { state: 'completed', result: { sha256: stored.sha256, size: 1, mimetype: 'image/jpeg', cached: false } };
    expect(failedOnOthersHints(completed, starter, mine)).toBe(false);
  });
});

