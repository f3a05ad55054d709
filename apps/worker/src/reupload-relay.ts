import type { Job } from 'bullmq';
import {
  encryptRetryReceipt,
  type JobSecrets,
  type Logger,
  type ReuploadAnswer,
  type ReuploadNotifier,
  type ReuploadStore,
} from '@wamedia/server';
import {
  MediaExpiredError,
  ReuploadDecryptionFailedError,
  ReuploadFailedError,
  ReuploadNotFoundError,
  type DownloadJobData,
  type DownloadJobResult,
  type WamediaError,
} from '@wamedia/shared';

type DownloadJob = Job<DownloadJobData, DownloadJobResult>;

/** Where a job stands in its re-upload round as an attempt starts. */
export type ReuploadState =
  /** No round: the request's own references are downloaded. */
  | { kind: 'none' }
  /** The phone re-uploaded the media: it is downloaded from here, and only from here. */
  | { kind: 'resumed'; directPath: string }
  /** Still waiting (the job was woken before its deadline): back to sleep until `until` (Unix ms). */
  | { kind: 'waiting'; until: number };

export interface ReuploadRelayOptions {
  store: ReuploadStore;
  /** Tells the job's callback URLs that it waits. */
  notifier: ReuploadNotifier;
  /** Opens the job's mediaKey, to encrypt the retry receipt. */
  secrets: JobSecrets;
  /** REUPLOAD_WAIT_MS. */
  waitMs: number;
  logger: Logger;
}

/**
 * The worker's side of the media retry relay. When every source of a job answered 403/404/410 and
 * the request named its message's key, the job does not fail: it opens a re-upload round (the
 * receipt the caller's session sends to the phone, a deadline), its followers are told, and it
 * sleeps. The reupload route answers the round and wakes the job, which then takes it up here.
 */
export class ReuploadRelay {
  constructor(private readonly options: ReuploadRelayOptions) {}

  /**
   * The job's round, as an attempt starts.
   * @throws the job's final failure: the phone's error answer, or MediaExpiredError (today's 404)
   *   once the deadline passed without an answer.
   */
  async stateOf(job: DownloadJob): Promise<ReuploadState> {
    const round = await this.options.store.get(job.id!);
    if (!round) return { kind: 'none' };
    if (round.state === 'answered') return resumeFrom(round.answer);
    if (round.state === 'expired') throw new MediaExpiredError(round.cdnStatus);
    if (Date.now() < round.expiresAt) return { kind: 'waiting', until: round.expiresAt };
    if (await this.options.store.expire(job.id!)) throw new MediaExpiredError(round.cdnStatus);
    // Answered between the two reads: take the answer.
    return this.stateOf(job);
  }

  /**
   * Opens the job's round after its sources expired. Resolves with the deadline (Unix ms), or
   * undefined when the job cannot have one: its request named no message key, or it had its round.
   */
  async request(job: DownloadJob, expired: MediaExpiredError): Promise<number | undefined> {
    const { messageKey, mediaKey, lookupKey } = job.data;
    if (!messageKey || !mediaKey) return undefined;
    const { encP, encIv } = encryptRetryReceipt(messageKey.id, this.options.secrets.open(mediaKey, lookupKey));
    const receipt = { encP: encP.toString('base64'), encIv: encIv.toString('base64') };
    const expiresAt = Date.now() + this.options.waitMs;
    if (!(await this.options.store.open(job.id!, { messageKey, receipt, expiresAt, cdnStatus: expired.cdnStatus }))) return undefined;
    const log = this.options.logger.child({ jobId: job.id, requestId: job.data.requestId });
    log.info({ cdnStatus: expired.cdnStatus, expiresAt: new Date(expiresAt).toISOString() }, 'media expired on the CDN; waiting for its re-upload');
    // The round stands without its webhooks: the job status route shows it all the same.
    await this.options.notifier
      .requested(job.id!, { messageKey, receipt, expiresAt: new Date(expiresAt).toISOString() })
      .catch((err: unknown) => log.warn({ err }, 'could not queue the media.reupload_requested webhooks'));
    return expiresAt;
  }

  /** Whether the job's round has its answer: read after the job is put to sleep, in case it came first. */
  async answered(jobId: string): Promise<boolean> {
    return (await this.options.store.get(jobId))?.state === 'answered';
  }
}

/** @throws the job's final failure for an error answer of the phone. */
function resumeFrom(answer: ReuploadAnswer | undefined): ReuploadState {
  if (answer?.kind === 'directPath') return { kind: 'resumed', directPath: answer.directPath };
  throw failureOf(answer?.kind === 'result' ? answer.result : 'GENERAL_ERROR');
}

function failureOf(result: Extract<ReuploadAnswer, { kind: 'result' }>['result']): WamediaError {
  if (result === 'NOT_FOUND') return new ReuploadNotFoundError();
  if (result === 'DECRYPTION_ERROR') return new ReuploadDecryptionFailedError();
  return new ReuploadFailedError();
}
