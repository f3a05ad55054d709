import { decryptRetryNotification, type JobSecrets, type ReuploadAnswer, type ReuploadRecord, type ReuploadStore } from '@wamedia/server';
import {
  JobNotFoundError,
  NotAwaitingReuploadError,
  NotificationUnreadableError,
  parseDownloadJobId,
  type ReuploadAccepted,
  type ReuploadAnswer as ReuploadAnswerBody,
  type ReuploadRequested,
} from '@wamedia/shared';
import type { DownloadJob, DownloadJobs } from './download-jobs.js';

type EncryptedNotification = NonNullable<ReuploadAnswerBody['notification']>;

/**
 * The API's side of the media retry relay: what a job waiting for the phone's re-upload shows,
 * and the caller's answer, which wakes the job. A notification is decrypted here, with the job's
 * mediaKey opened in memory for the request, so that one that does not decrypt is refused at once
 * (422) while the job goes on waiting.
 */
export class ReuploadService {
  constructor(
    private readonly deps: {
      jobs: DownloadJobs;
      reuploads: ReuploadStore;
      /** Opens the job's sealed mediaKey (JOB_DATA_KEY, the same as the workers'). */
      secrets: JobSecrets;
    },
  ) {}

  /** What the caller's session needs to ask for the re-upload, while the job waits for it. */
  async requestOf(jobId: string): Promise<ReuploadRequested | undefined> {
    const round = await this.deps.reuploads.get(jobId);
    return round?.state === 'awaiting' ? describeRound(round) : undefined;
  }

  /** Which of `jobIds` wait for a re-upload. */
  async awaiting(jobIds: readonly string[]): Promise<Set<string>> {
    return this.deps.reuploads.awaiting(jobIds);
  }

  /**
   * Hands the phone's answer to a waiting job and wakes it.
   * @throws JobNotFoundError, NotAwaitingReuploadError (409), NotificationUnreadableError (422).
   */
  async answer(instanceId: string, jobId: string, body: ReuploadAnswerBody): Promise<ReuploadAccepted> {
    const job = parseDownloadJobId(jobId) ? await this.deps.jobs.find(jobId, instanceId) : undefined;
    if (!job) throw new JobNotFoundError(jobId);
    const round = await this.deps.reuploads.get(jobId);
    if (round?.state !== 'awaiting') throw new NotAwaitingReuploadError(jobId);
    const answer: ReuploadAnswer =
      body.directPath !== undefined ? { kind: 'directPath', directPath: body.directPath } : this.read(job, round, body.notification!);
    if (!(await this.deps.reuploads.answer(jobId, answer))) throw new NotAwaitingReuploadError(jobId);
    // Not delayed yet (its worker is putting it to sleep): that worker sees the answer and wakes it.
    await job.promote().catch(() => undefined);
    return { jobId, status: await job.getState() };
  }

  /** The phone's notification, decrypted with the job's mediaKey and message id. */
  private read(job: DownloadJob, round: ReuploadRecord, notification: EncryptedNotification): ReuploadAnswer {
    // The key is removed when the job ends: then it no longer waits either.
    if (!job.data.mediaKey) throw new NotAwaitingReuploadError(job.id!);
    const mediaKey = this.deps.secrets.open(job.data.mediaKey, job.data.lookupKey);
    const { result, directPath } = decryptRetryNotification(notification, mediaKey, round.messageKey.id);
    if (result !== 'SUCCESS') return { kind: 'result', result };
    if (!directPath || !/^\/\S*$/.test(directPath)) {
      throw new NotificationUnreadableError('it says SUCCESS but names no usable directPath');
    }
    return { kind: 'directPath', directPath };
  }
}

function describeRound(round: ReuploadRecord): ReuploadRequested {
  return { messageKey: round.messageKey, receipt: round.receipt, expiresAt: new Date(round.expiresAt).toISOString() };
}
